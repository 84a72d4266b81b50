import { adminSession, ADMIN_STATE, baseURL, serverFn } from './tests/helpers';

// `cargo leptos end-to-end` starts the server and runs Playwright at once, without waiting:
// poll the readiness endpoint until the portal answers (or give up with a clear message). Then
// sign in as the admin once (every spec starts from that browser state) and make the teams the
// specs use, with the admin in them (credentials are only for a team's members).
export default async function globalSetup() {
  const deadline = Date.now() + 120_000;
  let last = 'no answer yet';
  for (;;) {
    try {
      const res = await fetch(`${baseURL}/readyz`);
      if (res.ok) break;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = String(e);
    }
    if (Date.now() > deadline) throw new Error(`the portal at ${baseURL} did not become ready within 120 s (${last})`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const api = await adminSession();
  for (const team of ['default', 'team-a', 'team-b', 'team-faults']) {
    await serverFn(api, 'create_team', { name: team, display_name: team });
    if (team !== 'team-b') await serverFn(api, 'set_membership', { team, username: 'admin', role: 'team-admin' });
  }
  await api.storageState({ path: ADMIN_STATE });
  await api.dispose();
}
