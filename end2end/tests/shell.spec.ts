import { test, expect } from '@playwright/test';
import { ADMIN_STATE, baseURL, hydrated, openHydrated } from './helpers';

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
  await openHydrated(page, '/account/tokens');
  await expect(page.getByRole('heading', { name: 'My API tokens', level: 1 })).toBeVisible();
  // A marker on window survives client-side navigation but not a reload.
  await page.evaluate(() => ((window as any).__qmMarker = 'still-here'));
  const nav = page.getByRole('navigation', { name: 'Main' });
  // Within the full app the instances list renders in the browser, its island included
  // (instances.spec.ts has its filters).
  await nav.getByRole('link', { name: 'Instances' }).click();
  await expect(page.getByRole('heading', { name: 'Instances', level: 1 })).toBeVisible();
  await expect(nav.getByRole('link', { name: 'Instances' })).toHaveAttribute('aria-current', 'page');
  await expect(page.getByTestId('instances-table').or(page.getByText('No instances yet'))).toBeVisible();
  await page.goBack();
  await expect(page).toHaveURL(/\/account\/tokens$/);
  await expect(page.getByRole('heading', { name: 'My API tokens', level: 1 })).toBeVisible();
  expect(await page.evaluate(() => (window as any).__qmMarker)).toBe('still-here');
  // The catalog too: rendered in the browser, and it searches.
  await nav.getByRole('link', { name: 'Catalog' }).click();
  await expect(page.getByRole('heading', { name: 'Catalog', level: 1 })).toBeVisible();
  await page.getByLabel('Search services').pressSequentially('kafka');
  await expect(page).toHaveURL(/\/catalog\?q=kafka$/);
  await expect(page.locator('[data-testid="catalog-tile"][data-class="kafka"]')).toBeVisible();
  await expect(page.locator('[data-testid="catalog-tile"][data-class="hdfs"]')).toHaveCount(0);
  expect(await page.evaluate(() => (window as any).__qmMarker)).toBe('still-here');
});

test('the catalog is an islands page: the full app is not fetched, and links are page loads', async ({ page }) => {
  const fetched: string[] = [];
  page.on('request', (r) => fetched.push(new URL(r.url()).pathname));
  await openHydrated(page, '/catalog');
  await expect(page.locator('body[data-islands]')).toHaveCount(1);
  await expect(page.locator('leptos-island')).toHaveCount(1);
  // Only the main wasm: no split part (the full app's or a screen's) was asked for.
  expect(fetched.filter((p) => p.endsWith('.wasm'))).toEqual(['/pkg/quartermaster.wasm']);
  // A class page is an islands page without islands: the same, and hydrated at once.
  fetched.length = 0;
  await openHydrated(page, '/catalog/hdfs');
  await expect(page.locator('body[data-islands]')).toHaveCount(1);
  await expect(page.locator('leptos-island')).toHaveCount(0);
  expect(fetched.filter((p) => p.endsWith('.wasm'))).toEqual(['/pkg/quartermaster.wasm']);
  // The instances list: its island is a part of the wasm of its own, fetched when the page has one;
  // the full app's part (split_hydrate_app_…) is not.
  await page.goto('/catalog');
  await page.evaluate(() => ((window as any).__qmMarker = 'catalog'));
  fetched.length = 0;
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Instances' }).click();
  await expect(page.getByRole('heading', { name: 'Instances', level: 1 })).toBeVisible();
  await hydrated(page);
  expect(await page.evaluate(() => (window as any).__qmMarker)).toBeUndefined();
  await expect(page.locator('body[data-islands]')).toHaveCount(1);
  await expect(page.locator('leptos-island')).toHaveCount(1);
  const parts = fetched.filter((p) => p.endsWith('.wasm'));
  expect(parts).toContain('/pkg/quartermaster.wasm');
  expect(parts.some((p) => p.includes('instances_results'))).toBe(true);
  expect(parts.filter((p) => p.includes('hydrate_app') || p.includes('route_view'))).toEqual([]);
  // The admin overview (one island: the connection check) and the audit log (none, its filters a
  // GET form): the main wasm alone.
  for (const path of ['/admin', '/admin/audit']) {
    fetched.length = 0;
    await openHydrated(page, path);
    await expect(page.locator('body[data-islands]')).toHaveCount(1);
    expect(fetched.filter((p) => p.endsWith('.wasm')), path).toEqual(['/pkg/quartermaster.wasm']);
  }
  await page.getByLabel('Actor').fill('admin');
  await page.getByLabel('Action (prefix)').fill('login');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/\/admin\/audit\?actor=admin&action=login&team=&since=&until=$/);
  await hydrated(page);
  await expect(page.getByLabel('Actor')).toHaveValue('admin');
  const rows = page.getByTestId('audit').locator('tbody tr');
  await expect(rows.first()).toBeVisible();
  for (const action of await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-action')))) {
    expect(action).toMatch(/^login/);
  }
  await expect(page.getByTestId('export-csv')).toHaveAttribute('href', '/admin/audit/export?format=csv&actor=admin&action=login');
  // The approvals queue: an island per request a person may decide, in the main wasm.
  fetched.length = 0;
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Approvals' }).click();
  await hydrated(page);
  await expect(page.locator('body[data-islands]')).toHaveCount(1);
  expect(fetched.filter((p) => p.endsWith('.wasm'))).toEqual(['/pkg/quartermaster.wasm']);
  // My API tokens is a full-app page: the full app fetched.
  fetched.length = 0;
  await page.goto('/account/tokens');
  await hydrated(page);
  await expect(page.locator('body[data-islands]')).toHaveCount(0);
  expect(fetched.some((p) => p.includes('hydrate_app'))).toBe(true);
});

test('the top bar searches the catalog, in the page once hydrated and as a plain form before', async ({ page, browser }) => {
  await openHydrated(page, '/account/tokens');
  await page.evaluate(() => ((window as any).__qmMarker = 'still-here'));
  await page.getByLabel('Search the catalog').fill('kafka');
  await page.getByLabel('Search the catalog').press('Enter');
  await expect(page).toHaveURL(/\/catalog\?q=kafka$/);
  await expect(page.getByTestId('catalog-tile')).toHaveCount(1);
  await expect(page.getByTestId('catalog-tile').first()).toHaveAttribute('data-class', 'kafka');
  await expect(page.getByLabel('Search services')).toHaveValue('kafka');
  expect(await page.evaluate(() => (window as any).__qmMarker)).toBe('still-here');

  // Without the wasm (scripts off) the same form is an ordinary GET the server answers.
  const context = await browser.newContext({ javaScriptEnabled: false, storageState: ADMIN_STATE, baseURL });
  const plain = await context.newPage();
  await plain.goto('/account/tokens');
  await plain.getByLabel('Search the catalog').fill('kafka');
  await plain.getByLabel('Search the catalog').press('Enter');
  await expect(plain).toHaveURL(/\/catalog\?q=kafka$/);
  await expect(plain.getByTestId('catalog-tile')).toHaveCount(1);
  await context.close();
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

test('pages asked for at once are each their own page: no preload links gathered from other answers', async ({ page }) => {
  // Leptos 0.8 registered a screen's preload links outside the request (see `without_split_preloads`
  // in app/src/lib.rs): answers made at the same time collected each other's, up to 400 KB a page.
  const bodies = await Promise.all(
    Array.from({ length: 24 }, async () => {
      const res = await page.request.get('/account/tokens');
      expect(res.status()).toBe(200);
      return await res.text();
    }),
  );
  const sizes = bodies.map((b) => b.length).sort((a, b) => a - b);
  const median = sizes[sizes.length >> 1];
  for (const body of bodies) {
    expect(body.length, `sizes ${sizes.join(', ')}`).toBeLessThan(median * 1.05);
    expect(body.length, `sizes ${sizes.join(', ')}`).toBeGreaterThan(median * 0.95);
    // The main bundle's own preload only; no parts, no second copy.
    expect(body.match(/type="application\/wasm"/g)?.length ?? 0).toBe(1);
  }
});
