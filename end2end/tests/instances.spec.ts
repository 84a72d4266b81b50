import { test, expect, type APIRequestContext } from '@playwright/test';
import { catalogWith, openHydrated, snap, uniqueName } from './helpers';

// The instances list is an islands page: its filters ask the server for the page in place (no
// reload), the address bar keeps them (a reload renders the same page on the server), and the
// rows stay live, held to the filters.
const INSTANCES = '/apis/servicecatalog.k8s.io/v1beta1/namespaces/default/serviceinstances';

async function create(request: APIRequestContext, baseURL: string, name: string) {
  const res = await request.post(INSTANCES, {
    data: {
      apiVersion: 'servicecatalog.k8s.io/v1beta1',
      kind: 'ServiceInstance',
      metadata: { name, namespace: 'default' },
      spec: { clusterServiceClassExternalName: 'hdfs', clusterServicePlanExternalName: 'shared', parameters: { namespaceQuota: 10000, storageSpaceQuota: 1024 } },
    },
    headers: { Origin: baseURL },
  });
  expect(res.status(), await res.text()).toBe(201);
}

test('the instances list filters in place, keeps the filters in the URL, and stays live', async ({ page, request, baseURL }, testInfo) => {
  test.setTimeout(180_000);
  const mine = uniqueName('flt');
  const other = uniqueName('oth');
  const later = `${mine}-later`;
  try {
    await catalogWith(page, 'hdfs');
    await create(request, baseURL!, mine);
    await create(request, baseURL!, other);
    await openHydrated(page, '/instances');
    await expect(page.locator('leptos-island')).toHaveCount(1);
    await page.evaluate(() => ((window as any).__qmNoReload = true));
    const row = (name: string) => page.locator(`[data-instance="default/${name}"]`);
    await expect(row(mine)).toBeVisible();
    await expect(row(other)).toBeVisible();

    // The name filter: the server's page for it, and the URL says so.
    await page.getByLabel('Name').fill(mine);
    await page.getByLabel('Name').press('Enter');
    await expect(page).toHaveURL(new RegExp(`/instances\\?search=${mine}$`));
    await expect(row(other)).toHaveCount(0);
    await expect(row(mine)).toBeVisible();
    await expect(row(mine).locator('[data-status="ready"]')).toBeVisible({ timeout: 60_000 });

    // A status filter on top: nothing failed.
    await page.getByLabel('Status').selectOption('failed');
    await expect(page).toHaveURL(new RegExp(`/instances\\?status=failed&search=${mine}$`));
    await expect(page.getByText('No instance matches these filters.')).toBeVisible();
    await expect(row(mine)).toHaveCount(0);
    await page.getByLabel('Status').selectOption('');
    await expect(row(mine)).toBeVisible();
    await expect(page).toHaveURL(new RegExp(`/instances\\?search=${mine}$`));

    // A new instance that matches arrives live; the filters hold it to them.
    await create(request, baseURL!, later);
    await expect(row(later)).toBeVisible({ timeout: 30_000 });
    await expect(row(other)).toHaveCount(0);
    expect(await page.evaluate(() => (window as any).__qmNoReload), 'the list was not reloaded').toBe(true);
    await snap(page, testInfo, 'instances filtered by name');

    // The URL is the page: the server renders the same filtered list.
    await page.reload();
    await expect(page.getByLabel('Name')).toHaveValue(mine);
    await expect(row(mine)).toBeVisible();
    await expect(row(later)).toBeVisible();
    await expect(row(other)).toHaveCount(0);
  } finally {
    for (const name of [mine, other, later]) {
      await request.delete(`${INSTANCES}/${name}`, { headers: { Origin: baseURL! } }).catch(() => undefined);
    }
  }
});
