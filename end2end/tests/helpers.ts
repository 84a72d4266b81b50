import { expect, type Page } from '@playwright/test';

/** Opens a page and waits until the wasm has hydrated it, so clicks reach live handlers. */
export async function openHydrated(page: Page, path: string) {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(path);
  await expect(page.locator('body[data-hydrated="true"]'), `page ${path} never hydrated; errors: ${errors.join('; ')}`).toHaveCount(1);
  return errors;
}
