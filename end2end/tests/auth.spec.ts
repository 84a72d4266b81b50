import { expect, request, test, type Page } from '@playwright/test';
import { ADMIN, baseURL, chooseOwnPassword, newPerson, openHydrated, signIn, snap, uniqueName } from './helpers';

// Signing in and out, a one-time password turned into one's own, and a team's boundary.

test.describe('signed out', () => {
  test.use({ storageState: { cookies: [], origins: [] } });

  test('pages send to the login page, which signs in (hydrated, no CSP violations) and back out', async ({ page }, testInfo) => {
    await page.goto('/instances');
    await expect(page).toHaveURL(/\/login\?next=\/instances$/);
    await openHydrated(page, '/login?next=/instances');
    await page.locator('#login-username').fill(ADMIN.username);
    await page.locator('#login-password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByTestId('login-error')).toContainText('do not match an account');
    await snap(page, testInfo, 'login refused');
    await page.locator('#login-username').fill(ADMIN.username);
    await page.locator('#login-password').fill(ADMIN.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page).toHaveURL(/\/instances$/);
    await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
    await expect(page.getByTestId('user')).toContainText('admin');
    await page.getByTestId('user').click();
    await page.getByTestId('sign-out').click();
    await expect(page).toHaveURL(/\/login\?signed_out=1$/);
    await expect(page.getByText('You have signed out.')).toBeVisible();
    await page.goto('/catalog');
    await expect(page).toHaveURL(/\/login\?next=\/catalog$/);
  });
});

test('an admin creates a person in People; they sign in with the one-time password and choose their own', async ({ page, browser }, testInfo) => {
  const username = uniqueName('carol');
  await openHydrated(page, '/admin/people');
  const form = page.getByTestId('new-person');
  await form.getByLabel('Username').fill(username);
  await form.getByLabel('Full name').fill('Carol Example');
  await form.getByRole('button', { name: 'Create person' }).click();
  const oneTime = (await page.getByTestId('one-time-password-value').textContent())?.trim() ?? '';
  expect(oneTime).toHaveLength(20);
  await snap(page, testInfo, 'one-time password shown once');
  // Into team-a as a member, through the team's card.
  const team = page.locator('[data-testid="team"][data-team="team-a"]');
  await team.getByPlaceholder('username').fill(username);
  await team.getByRole('button', { name: 'Save' }).click();
  await expect(team.locator(`[data-testid="member"][data-username="${username}"]`)).toContainText('Member');

  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const theirs = await context.newPage();
  await chooseOwnPassword(theirs, username, oneTime, 'carols own long password');
  await openHydrated(theirs, '/instances');
  await expect(theirs.getByTestId('user')).toContainText(username);
  // People is for admins: a member gets the 403 page.
  const res = await theirs.goto('/admin/people');
  expect(res?.status()).toBe(403);
  await expect(theirs.getByTestId('forbidden')).toBeVisible();
  await context.close();
});

test("a member of team A opening team B's instance URL gets a clear 403 page", async ({ page, browser }, testInfo) => {
  const username = uniqueName('dora');
  const oneTime = await newPerson(page, username, 'team-a');
  const context = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const dora = await context.newPage();
  await chooseOwnPassword(dora, username, oneTime, 'doras own long password');
  const res = await dora.goto('/instances/team-b/orders-db');
  expect(res?.status()).toBe(403);
  await expect(dora.locator('body[data-hydrated="true"]')).toHaveCount(1);
  const box = dora.getByTestId('forbidden');
  await expect(box).toContainText('You do not have access to this');
  await expect(box).toContainText(`You (${username}) are not a member of team team-b`);
  await expect(box.getByRole('link', { name: 'your instances' })).toBeVisible();
  await snap(dora, testInfo, '403 for another team');
  await context.close();
});

test('an API token is shown once, works as its owner, and stops working when revoked', async ({ page }, testInfo) => {
  const name = uniqueName('ci');
  await openHydrated(page, '/account/tokens');
  await page.getByLabel('Name (what it is for)').fill(name);
  await page.getByRole('button', { name: 'Create token' }).click();
  const token = (await page.getByTestId('token').textContent())?.trim() ?? '';
  expect(token).toMatch(/^qm_[A-Za-z0-9_-]{43}$/);
  const row = page.locator(`[data-testid="token-row"][data-name="${name}"]`);
  await expect(row).toBeVisible();
  await expect(row).not.toContainText(token);
  await snap(page, testInfo, 'token shown once');
  // The token acts as the admin: the admin-only metrics answer it, with no cookie.
  const api = await request.newContext({ baseURL });
  expect((await api.get('/metrics', { headers: { Authorization: `Bearer ${token}` } })).status()).toBe(200);
  await row.getByRole('button', { name: `Revoke token ${name}` }).click();
  await expect(row).toHaveCount(0);
  expect((await api.get('/metrics', { headers: { Authorization: `Bearer ${token}` } })).status()).toBe(401);
  await api.dispose();
  // Reloaded, the page lists it no more and never shows a secret again.
  await openHydrated(page, '/account/tokens');
  await expect(page.locator(`[data-testid="token-row"][data-name="${name}"]`)).toHaveCount(0);
  await expect(page.getByTestId('token')).toHaveCount(0);
});
