import { expect, type Page, type TestInfo } from '@playwright/test';

/** Opens a page and waits until the wasm has hydrated it, so clicks reach live handlers. */
export async function openHydrated(page: Page, path: string) {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(path);
  await expect(page.locator('body[data-hydrated="true"]'), `page ${path} never hydrated; errors: ${errors.join('; ')}`).toHaveCount(1);
  return errors;
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
  void username;
  return openHydrated(page, path);
}
