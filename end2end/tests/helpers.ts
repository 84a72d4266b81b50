import { expect, request, type APIRequestContext, type Page, type TestInfo } from '@playwright/test';

/** The platform admin every browser test acts as (dev.sh gives the portal this password). */
export const ADMIN = { username: 'admin', password: process.env.QM_ADMIN_PASSWORD ?? 'e2e-admin-password' };
/** The built-in broker's basic auth (`./dev.sh test` starts the portal with this password). */
export const BROKER_USERNAME = 'quartermaster';
export const BROKER_PASSWORD = process.env.QM_BUILTIN_BROKER_PASSWORD ?? 'e2e-broker-password';
export const BROKER_AUTH = { Authorization: `Basic ${btoa(`${BROKER_USERNAME}:${BROKER_PASSWORD}`)}` };
/** Where global setup keeps the admin's signed-in browser state, which every spec starts from. */
export const ADMIN_STATE = 'test-results/.auth/admin.json';
export const baseURL = process.env.QM_E2E_BASE_URL ?? 'http://127.0.0.1:3000';

/**
 * Signs in through the login form, as a person does, and waits for the page it leads to.
 * Specs start signed in as the admin (global setup uses `adminSession` once: the portal limits
 * sign-ins to ten a minute per address); this is for acting as someone else.
 */
export async function signIn(page: Page, username: string, password: string) {
  await page.goto('/login');
  await page.locator('#login-username').fill(username);
  await page.locator('#login-password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).not.toHaveURL(/\/login/);
}

/** An API context signed in as the admin (session cookie; the portal's Origin on writes). */
export async function adminSession(): Promise<APIRequestContext> {
  const api = await request.newContext({ baseURL, extraHTTPHeaders: { Origin: baseURL } });
  const res = await api.post('/auth/login', { form: { ...ADMIN, next: '/' }, maxRedirects: 0 });
  expect(res.status(), 'the admin signs in').toBe(303);
  expect(res.headers()['location'], 'the admin signs in').toBe('/');
  return api;
}

/** Calls a server function with URL-encoded arguments; fails the test unless it is done. */
export async function serverFn(api: APIRequestContext, endpoint: string, form: Record<string, string>) {
  const res = await api.post(`/api/${endpoint}`, { form });
  expect(res.status(), `${endpoint}: ${await res.text()}`).toBe(200);
  const body = await res.json();
  if (body && typeof body === 'object' && 'Rejected' in body) throw new Error(`${endpoint}: ${JSON.stringify(body)}`);
  return body;
}

/**
 * Opens a page and waits until the wasm has hydrated it, so clicks reach live handlers. Fails on
 * any Content-Security-Policy violation the browser reports.
 */
export async function openHydrated(page: Page, path: string) {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => {
    if (/Content.Security.Policy/i.test(m.text())) errors.push(`CSP: ${m.text()}`);
  });
  await page.goto(path);
  await expect(page.locator('body[data-hydrated="true"]'), `page ${path} never hydrated; errors: ${errors.join('; ')}`).toHaveCount(1);
  expect(errors.filter((e) => e.startsWith('CSP:')), 'no Content-Security-Policy violations').toEqual([]);
  return errors;
}

/**
 * Waits until the page a link loaded has hydrated. Links from islands pages (the catalog, a class
 * page) are page loads, and the page they open answers typing and clicks once hydrated.
 */
export async function hydrated(page: Page) {
  await expect(page.locator('body[data-hydrated="true"]'), `${page.url()} never hydrated`).toHaveCount(1);
}

/** Keeps a screenshot of the page as an artifact of the test (in the report and test-results). */
export async function snap(page: Page, testInfo: TestInfo, name: string) {
  const path = testInfo.outputPath(`${String(++shots).padStart(2, '0')}-${name.replace(/[^a-z0-9]+/gi, '-')}.png`);
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}
let shots = 0;

/** Waits until the built-in broker's catalog has reached the catalog page (reloading it). */
export async function catalogWith(page: Page, service: string) {
  await openHydrated(page, '/catalog');
  await expect(async () => {
    await page.reload();
    await expect(page.locator(`[data-testid="catalog-tile"][data-class="${service}"]`)).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 60_000 });
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
}

/** A fresh instance name for this run. */
export function uniqueName(prefix: string) {
  return `${prefix}-${Date.now().toString(36)}`;
}

/**
 * Opens `path` as `username` and waits for hydration. Without login (until the auth branch is
 * merged) everyone is the built-in admin, so this only opens the page; with login it signs the
 * page's browser context in as that user first. Use one browser context per user.
 */
export async function asUser(page: Page, username: string, path: string) {
  // Each browser context is signed in as its user beforehand (see `newPerson`, `ADMIN_STATE`).
  void username;
  return openHydrated(page, path);
}

/** A fresh person made by the admin (this page's session), in `team` with `role`; returns the one-time password. */
export async function newPerson(page: Page, username: string, team: string, role = 'member') {
  const post = (endpoint: string, form: Record<string, string>) =>
    page.request.post(`/api/${endpoint}`, { form, headers: { Origin: baseURL } });
  const created = await (await post('create_person', { username, display_name: username })).json();
  const password = created?.Done?.one_time_password;
  expect(password, JSON.stringify(created)).toBeTruthy();
  const member = await (await post('set_membership', { team, username, role })).json();
  expect(member).toEqual({ Done: null });
  return password as string;
}

/** Signs in with a one-time password and replaces it, as the portal insists. */
export async function chooseOwnPassword(page: Page, username: string, oneTime: string, own: string) {
  await signIn(page, username, oneTime);
  await expect(page).toHaveURL(/\/account\/password/);
  await expect(page.getByRole('heading', { name: 'Change your password' })).toBeVisible();
  await page.getByLabel('Current password').fill(oneTime);
  await page.getByLabel('New password', { exact: true }).fill(own);
  await page.getByLabel('New password again').fill(own);
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page).not.toHaveURL(/\/account\/password/);
}


