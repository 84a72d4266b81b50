import { test, expect } from '@playwright/test';
import { BROKER_PASSWORD, BROKER_USERNAME, openHydrated, snap, uniqueName } from './helpers';

test('admin tests a broker connection, sees a broken registration explained, relists and removes', async ({ page, baseURL }, testInfo) => {
  test.setTimeout(120_000);
  await openHydrated(page, '/admin/brokers');
  const builtin = page.locator('[data-broker="builtin-broker"]');
  await expect(builtin).toBeVisible();
  await expect(async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(builtin.locator('[data-status="ready"]')).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 60_000 });

  const broken = uniqueName('nowhere');
  await page.getByTestId('open-register').click();
  await page.locator('#broker-name').fill(broken);
  await page.locator('#broker-url').fill(`${baseURL}/broker`);
  // The built-in broker answers only with its credentials.
  await page.getByTestId('test-connection').click();
  await expect(page.getByTestId('connection-test')).toContainText('The broker refused the credentials (401/403).');
  await page.locator('#auth-basic').check();
  await page.locator('#broker-username').fill(BROKER_USERNAME);
  await page.locator('#broker-password').fill(BROKER_PASSWORD);
  await page.getByTestId('test-connection').click();
  await expect(page.getByTestId('connection-test')).toContainText(/Connected: the catalog lists \d+ services/);
  await snap(page, testInfo, 'connection test ok');

  // A broker nobody answers for: the test says so; registered anyway, its status explains it.
  await page.locator('#broker-url').fill('http://127.0.0.1:9');
  await page.getByTestId('test-connection').click();
  await expect(page.getByTestId('connection-test')).toContainText('could not be reached');
  await page.locator('#auth-basic').check();
  await page.locator('#broker-username').fill('qm');
  await page.locator('#broker-password').fill('secret');
  await page.getByTestId('register').click();
  await expect(page.getByTestId('notice')).toContainText(`Broker ${broken} registered`);
  const nowhere = page.locator(`[data-broker="${broken}"]`);
  await expect(async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(nowhere.locator('[data-status="failed"]')).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 60_000 });
  await expect(nowhere.getByTestId('broker-state')).toContainText('Error');
  await expect(nowhere).toContainText(`basic (Secret quartermaster-system/${broken}-broker-auth)`);
  await snap(page, testInfo, 'broken broker');

  const requests = async () => Number(/requests (\d+)/.exec((await builtin.textContent()) ?? '')?.[1]);
  const before = await requests();
  await builtin.getByTestId('relist').click();
  await expect(builtin).toContainText(`requests ${before + 1}`);

  await nowhere.getByRole('button', { name: 'Remove…' }).click();
  await nowhere.getByRole('button', { name: 'Remove', exact: true }).click();
  // The controller lets go of it (its classes, if any, go first); the list follows on refresh.
  await expect(async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(nowhere).toHaveCount(0, { timeout: 1_000 });
  }).toPass({ timeout: 60_000 });
});
