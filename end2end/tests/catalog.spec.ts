import { test, expect } from '@playwright/test';
import { catalogWith, openHydrated, snap } from './helpers';

test('the catalog searches as you type, filters by tag, and keeps both in the URL', async ({ page }, testInfo) => {
  await catalogWith(page, 'hdfs');
  const tiles = page.getByTestId('catalog-tile');
  const all = await tiles.count();
  expect(all).toBeGreaterThanOrEqual(9);
  await snap(page, testInfo, 'catalog');

  await page.getByLabel('Search services').pressSequentially('kafka');
  await expect(tiles).toHaveCount(1);
  await expect(tiles.first()).toHaveAttribute('data-class', 'kafka');
  await expect(page).toHaveURL(/\/catalog\?q=kafka$/);
  await expect(page.getByTestId('catalog-count')).toHaveText(`1 of ${all} services`);

  await page.getByLabel('Search services').fill('');
  await expect(page).toHaveURL(/\/catalog$/);
  await expect(page.getByTestId('catalog-count')).toHaveText(`${all} services`);
  await page.locator('[data-tag="hadoop"]').click();
  await expect(page).toHaveURL(/tag=hadoop/);
  await expect(page.locator('[data-class="hdfs"]')).toBeVisible();
  await expect(page.locator('[data-class="kafka"]')).toHaveCount(0);
  await snap(page, testInfo, 'catalog filtered by tag');

  // The filtered URL is shareable: a fresh load shows the same tiles, rendered by the server.
  const url = page.url();
  const fresh = await page.context().newPage();
  await fresh.goto(url);
  await expect(fresh.locator('[data-class="kafka"]')).toHaveCount(0);
  await expect(fresh.locator('[data-class="hdfs"]')).toBeVisible();
  await fresh.close();
});

test('a class page shows its plans side by side and back returns to the catalog', async ({ page }, testInfo) => {
  await catalogWith(page, 'hdfs');
  await page.locator('[data-class="hdfs"] a').click();
  await expect(page).toHaveURL(/\/catalog\/hdfs$/);
  await expect(page.getByRole('heading', { name: 'HDFS', level: 1 })).toBeVisible();
  const plans = page.getByTestId('plan-card');
  await expect(plans).toHaveCount(2);
  await expect(plans.first()).toHaveAttribute('data-plan', 'shared');
  await expect(plans.first().getByTestId('plan-asks')).toContainText('HDFS storage (GB)');
  await expect(plans.first().getByTestId('plan-asks')).toContainText('slider in GB');
  await expect(page.locator('[data-plan="dedicated"]')).toContainText('$450.00 / month');
  await snap(page, testInfo, 'class page');
  await page.goBack();
  await expect(page).toHaveURL(/\/catalog$/);
  await expect(page.getByTestId('catalog-grid')).toBeVisible();
});

test('pages are readable before the browser takes over', async ({ browser }) => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto('/catalog/hdfs');
  await expect(page.getByRole('heading', { name: 'HDFS', level: 1 })).toBeVisible();
  await expect(page.getByTestId('plan-card')).toHaveCount(2);
  await page.goto('/catalog?q=redis');
  await expect(page.getByTestId('catalog-tile')).toHaveCount(1);
  await context.close();
});

test('an unknown service is a 404 page', async ({ page }) => {
  await openHydrated(page, '/catalog/no-such-service');
  await expect(page.getByText('Page not found')).toBeVisible();
});
