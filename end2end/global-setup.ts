// `cargo leptos end-to-end` starts the server and runs Playwright at once, without waiting:
// poll the readiness endpoint until the portal answers (or give up with a clear message).
export default async function globalSetup() {
  const base = process.env.QM_E2E_BASE_URL ?? 'http://127.0.0.1:3000';
  const deadline = Date.now() + 120_000;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${base}/readyz`);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = String(e);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the portal at ${base} did not become ready within 120 s (${last})`);
}
