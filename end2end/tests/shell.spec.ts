import { test, expect } from '@playwright/test';
import { openHydrated } from './helpers';

test('the admin page hydrates and the connection check round-trips a server function', async ({ page }) => {
  const errors = await openHydrated(page, '/admin');
  await expect(page.getByRole('heading', { name: 'Admin', level: 1 })).toBeVisible();

  const requests: string[] = [];
  page.on('request', (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
  await page.getByTestId('check-connection').click();
  const result = page.getByTestId('connection-result');
  await expect(result).toContainText('Connected to Quartermaster');
  await expect(result).toContainText('SQLite');
  expect(requests).toContain('POST /api/check_portal');
  expect(errors).toEqual([]);
});

test('navigation moves between pages without a full reload and back works', async ({ page }) => {
  await openHydrated(page, '/');
  await expect(page.getByRole('heading', { name: 'Catalog', level: 1 })).toBeVisible();
  // A marker on window survives client-side navigation but not a reload.
  await page.evaluate(() => ((window as any).__qmMarker = 'still-here'));
  const nav = page.getByRole('navigation', { name: 'Main' });
  await nav.getByRole('link', { name: 'Instances' }).click();
  await expect(page).toHaveURL(/\/instances$/);
  await expect(page.getByRole('heading', { name: 'Instances', level: 1 })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Instances' })).toHaveAttribute('aria-current', 'page');
  await nav.getByRole('link', { name: 'Approvals' }).click();
  await expect(page.getByText('Nothing waiting for approval')).toBeVisible();
  await page.goBack();
  await expect(page).toHaveURL(/\/instances$/);
  expect(await page.evaluate(() => (window as any).__qmMarker)).toBe('still-here');
});

test('dark mode follows the system setting', async ({ browser }) => {
  const page = await browser.newPage({ colorScheme: 'dark' });
  await openHydrated(page, '/');
  const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  await page.emulateMedia({ colorScheme: 'light' });
  const light = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  expect(dark).not.toEqual(light);
  await page.close();
});
