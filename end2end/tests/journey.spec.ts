import { test, expect, type Page } from '@playwright/test';
import { BROKER_AUTH, catalogWith, hydrated, openHydrated, snap, uniqueName } from './helpers';

// The whole life of an HDFS namespace on the built-in broker, in one browser tab: from the request form
// on, no reloads (the catalog and the class page before it are islands pages, their links page loads).
test.describe.configure({ mode: 'serial' });

async function statusIs(page: Page, phase: string, timeout = 60_000) {
  await expect(page.getByTestId('status-panel')).toHaveAttribute('data-phase', phase, { timeout });
}

test('request, watch, bind, reveal, raise the quota, delete', async ({ page, context }, testInfo) => {
  test.setTimeout(240_000);
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const name = uniqueName('logs');
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));

  await catalogWith(page, 'hdfs');
  await page.getByLabel('Search services').pressSequentially('hdf');
  await expect(page.getByTestId('catalog-tile')).toHaveCount(1);
  await page.locator('[data-class="hdfs"] a').click();
  await page.locator('[data-plan="shared"]').getByTestId('request-plan').click();
  await expect(page).toHaveURL(/\/catalog\/hdfs\/request\?plan=shared$/);
  // The catalog and the class page are islands pages: their links are page loads.
  await hydrated(page);
  // From here on (submit, the instance page, binding, update, delete) nothing reloads the page.
  await page.evaluate(() => ((window as any).__qmNoReload = true));

  // The name is checked while typing.
  await page.locator('#instance-name').fill('Logs_1');
  await expect(page.getByTestId('name-error')).toContainText('lowercase RFC 1123');
  await page.locator('#instance-name').fill(name);
  await expect(page.getByTestId('name-error')).toBeEmpty();
  // The team: chosen, not left to whichever is offered first (other specs make teams of their own).
  await page.locator('#instance-namespace').fill('default');

  // Move the storage slider: the number box and the shown value follow, with the unit.
  const storage = page.locator('[data-field="/storageSpaceQuota"]');
  const slider = storage.locator('input[type="range"]');
  await slider.scrollIntoViewIfNeeded();
  const box = await slider.boundingBox();
  if (!box) throw new Error('no slider');
  await page.mouse.click(box.x + box.width * 0.25, box.y + box.height / 2);
  const slid = Number((await storage.locator('input[name="/storageSpaceQuota"]').inputValue()).replace(/,/g, ''));
  expect(slid).toBeGreaterThan(20_000);
  expect(slid).toBeLessThan(35_000);
  await expect(storage.locator('[data-shown]')).toContainText('GB');
  await snap(page, testInfo, 'slider moved');

  // An out-of-range quota is refused beside the field, while typing.
  const number = storage.locator('input[name="/storageSpaceQuota"]');
  await number.fill('200000');
  await expect(storage.locator('[data-messages]')).toContainText('at most 102,400');
  await snap(page, testInfo, 'out of range');
  await number.fill('4096');
  await expect(storage.locator('[data-messages]')).toBeEmpty();

  await page.getByTestId('review-request').click();
  await expect(page.getByTestId('review')).toBeVisible();
  await expect(page.getByTestId('review')).toContainText('4,096 GB');
  await expect(page.getByTestId('review-name')).toHaveText(name);
  await snap(page, testInfo, 'review');
  // A second tab on the instances list sees the new instance arrive and change, live.
  const list = await context.newPage();
  await openHydrated(list, '/instances');
  await list.evaluate(() => ((window as any).__qmNoReload = true));
  // The list records every status its row shows, as the server pushes them.
  await list.evaluate((n) => {
    const seen: string[] = ((window as any).__qmSeen = []);
    const record = () => {
      const status = document.querySelector(`[data-instance="default/${n}"] [data-status]`)?.getAttribute('data-status');
      if (status && seen[seen.length - 1] !== status) seen.push(status);
    };
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
  }, name);
  await page.getByTestId('submit-request').click();

  // The instance page: Provisioning (the built-in broker takes 3 s; a page slower than that to
  // appear finds it Ready already), then Ready, pushed by the server.
  await expect(page).toHaveURL(new RegExp(`/instances/default/${name}$`));
  await expect(page.locator('[data-live="live"]')).toBeVisible();
  await expect(page.getByTestId('status-panel')).toBeVisible({ timeout: 15_000 });
  if ((await page.getByTestId('status-panel').getAttribute('data-phase')) === 'provisioning') {
    await snap(page, testInfo, 'provisioning');
  }
  await statusIs(page, 'ready');
  await expect(page.getByTestId('status-word')).toHaveText('Ready');
  await expect(page.getByTestId('parameters')).toContainText('4,096 GB');
  await snap(page, testInfo, 'ready');
  const row = list.locator(`[data-instance="default/${name}"]`);
  await expect(row.locator('[data-status="ready"]')).toBeVisible({ timeout: 30_000 });
  expect(await list.evaluate(() => (window as any).__qmNoReload)).toBe(true);
  // The list saw it Provisioning, then Ready, without a reload.
  const seen: string[] = await list.evaluate(() => (window as any).__qmSeen);
  expect(seen[0]).toBe('provisioning');
  expect(seen[seen.length - 1]).toBe('ready');
  await snap(list, testInfo, 'instances list, live');
  await list.close();

  // Bind, and reveal the credentials (fetched only now).
  const revealed: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/api/reveal_credentials')) revealed.push(r.url());
  });
  await page.getByTestId('new-binding').click();
  await page.getByTestId('create-binding').click();
  const binding = page.getByTestId('binding').first();
  await expect(binding.locator('[data-status="ready"]')).toBeVisible({ timeout: 60_000 });
  expect(revealed).toHaveLength(0);
  await binding.getByTestId('reveal-credentials').click();
  const values = binding.getByTestId('credential-values');
  await expect(values).toBeVisible();
  await expect(values.locator('[data-credential="uri"]')).toContainText('hdfs://');
  await expect(values.locator('[data-credential="principal"]')).not.toBeEmpty();
  expect(revealed).toHaveLength(1);
  await binding.getByRole('tab', { name: 'Environment variables' }).click();
  await expect(binding.getByTestId('snippet')).toContainText('export URI=');
  await binding.getByRole('tab', { name: 'Kubernetes Secret' }).click();
  await expect(binding.getByTestId('snippet')).toContainText('kind: Secret');
  await snap(page, testInfo, 'credentials');
  await binding.getByTestId('hide-credentials').click();
  await expect(values).toHaveCount(0);

  // Raise the quota by an update: the form starts from the current values.
  await page.getByTestId('edit-instance').click();
  const update = page.getByTestId('update-panel');
  const updateBox = update.locator('input[name="/storageSpaceQuota"]');
  await expect(updateBox).toHaveValue('4,096');
  await updateBox.fill('8192');
  await snap(page, testInfo, 'update form');
  await page.getByTestId('submit-update').click();
  await expect(update).toHaveCount(0);
  await expect(page.getByTestId('parameters')).toContainText('8,192 GB');
  await statusIs(page, 'ready');
  await expect(page.getByTestId('status-message')).toContainText('updated', { timeout: 60_000 });
  await snap(page, testInfo, 'updated');

  // Delete, with a confirmation that says what happens to the binding.
  await page.getByTestId('delete-instance').click();
  await expect(page.getByTestId('confirm-delete')).toContainText('binding is deleted first');
  await page.getByTestId('confirm-delete-button').click();
  await expect(page.getByText('This instance has been deleted')).toBeVisible({ timeout: 90_000 });
  await snap(page, testInfo, 'deleted');

  expect(await page.evaluate(() => (window as any).__qmNoReload)).toBe(true);
  expect(errors).toEqual([]);
});

test('a broker fault ends in a readable message on the instance page', async ({ page, request }, testInfo) => {
  test.setTimeout(120_000);
  // The built-in broker refuses the next provision with a 400 and a description.
  // Its fault switch takes the broker's own credentials, and nothing else.
  const data = { fault: 'bad-request', on: 'provision', times: 1 };
  expect((await request.put('/broker/admin/fault', { data })).status()).toBe(401);
  const fault = await request.put('/broker/admin/fault', { data, headers: BROKER_AUTH });
  expect(fault.ok()).toBeTruthy();
  try {
    const name = uniqueName('broken');
    await catalogWith(page, 'kafka');
    await page.locator('[data-class="kafka"] a').click();
    await page.getByTestId('request-plan').first().click();
    await hydrated(page);
    await page.locator('#instance-name').fill(name);
    await page.locator('#instance-namespace').fill('team-faults');
    await page.getByTestId('review-request').click();
    await page.getByTestId('submit-request').click();
    await expect(page).toHaveURL(new RegExp(`/instances/team-faults/${name}$`));
    await statusIs(page, 'failed');
    await expect(page.getByTestId('status-word')).toHaveText('Failed');
    await expect(page.getByTestId('status-message')).toContainText('the request was refused (injected fault)');
    await expect(page.getByTestId('conditions')).toContainText('Failed');
    await snap(page, testInfo, 'failed');

    // A failed instance can still be removed.
    await page.getByTestId('delete-instance').click();
    await page.getByTestId('confirm-delete-button').click();
    await expect(page.getByText('This instance has been deleted')).toBeVisible({ timeout: 60_000 });
  } finally {
    await request.delete('/broker/admin/fault', { headers: BROKER_AUTH });
  }
});
