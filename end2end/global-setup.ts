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
    // Tolerates a portal the specs ran against before (a manual run against a running portal).
    const made = await api.post('/api/create_team', { form: { name: team, display_name: team } });
    const body = await made.json();
    if (!(made.status() === 200 && (body?.Done === null || /already exists/.test(body?.Rejected?.message ?? '')))) {
      throw new Error(`create_team ${team}: HTTP ${made.status()} ${JSON.stringify(body)}`);
    }
    if (team !== 'team-b') await serverFn(api, 'set_membership', { team, username: 'admin', role: 'team-admin' });
  }
  await api.storageState({ path: ADMIN_STATE });
  await api.dispose();
}
