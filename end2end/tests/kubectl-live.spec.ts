import { test, expect, request, type APIRequestContext, type Page } from '@playwright/test';
import { baseURL, catalogWith, hydrated, openHydrated, snap, uniqueName } from './helpers';

// The same object through kubectl and the browser (issue 8, in both modes of issue 9): an
// instance created through the Kubernetes-style API with a bearer token shows up live on the open
// instances list, reaches Ready there, and a merge patch of its parameters reaches the open
// instance page; the reverse: an instance requested in the browser reads back through the API with
// the form's parameters, and a kubectl-style patch shows on its open page. No reloads.
test.describe.configure({ mode: 'serial' });

const TEAM = 'team-a';
const INSTANCES = `/apis/servicecatalog.k8s.io/v1beta1/namespaces/${TEAM}/serviceinstances`;

/** A fresh API token of the signed-in admin (the portal's server function, as the tokens page uses). */
async function newToken(page: Page) {
  const res = await page.request.post('/api/create_token', { form: { name: uniqueName('e2e-kubectl-live') }, headers: { Origin: baseURL } });
  expect(res.status(), await res.text()).toBe(200);
  const made = await res.json();
  const token: string = made?.Done?.token;
  expect(token, JSON.stringify(made)).toMatch(/^qm_/);
  return { token, id: made.Done.row.id as number };
}

async function revokeToken(page: Page, id: number) {
  const res = await page.request.post('/api/revoke_token', { form: { id: String(id) }, headers: { Origin: baseURL } });
  expect(await res.json()).toEqual({ Done: null });
}

/** What kubectl sends: JSON with the token, no cookie. */
async function kubectl(token: string): Promise<APIRequestContext> {
  return request.newContext({
    baseURL,
    storageState: { cookies: [], origins: [] },
    extraHTTPHeaders: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
  });
}

async function mergePatchStorage(api: APIRequestContext, name: string, storage: number) {
  const res = await api.patch(`${INSTANCES}/${name}`, {
    data: JSON.stringify({ spec: { parameters: { storageSpaceQuota: storage } } }),
    headers: { 'Content-Type': 'application/merge-patch+json' },
  });
  expect(res.status(), await res.text()).toBe(200);
  expect((await res.json()).spec.parameters.storageSpaceQuota).toBe(storage);
}

async function noReload(page: Page) {
  expect(await page.evaluate(() => (window as any).__qmNoReload), 'the page was not reloaded').toBe(true);
}

test('created through the API: live on the open list, then a merge patch live on the open instance page', async ({ page }, testInfo) => {
  test.setTimeout(180_000);
  const { token, id } = await newToken(page);
  const api = await kubectl(token);
  const name = uniqueName('kube');
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await catalogWith(page, 'hdfs');
    await openHydrated(page, '/instances');
    await page.evaluate(() => ((window as any).__qmNoReload = true));
    const row = page.locator(`[data-instance="${TEAM}/${name}"]`);
    await expect(row).toHaveCount(0);

    const created = await api.post(INSTANCES, {
      data: {
        apiVersion: 'servicecatalog.k8s.io/v1beta1',
        kind: 'ServiceInstance',
        metadata: { name, namespace: TEAM },
        spec: {
          clusterServiceClassExternalName: 'hdfs',
          clusterServicePlanExternalName: 'shared',
          parameters: { namespaceQuota: 10000, storageSpaceQuota: 2048 },
        },
      },
    });
    expect(created.status(), await created.text()).toBe(201);
    expect((await created.json()).metadata.uid).toBeTruthy();

    // The row arrives and goes Ready on the open list, pushed by the server.
    await expect(row).toBeVisible({ timeout: 30_000 });
    await expect(row.locator('[data-status="ready"]')).toBeVisible({ timeout: 60_000 });
    await noReload(page);
    await snap(page, testInfo, 'created through the API, live on the list');

    // Its page (a page load: the list is an islands page): Ready, with the parameters the API was given.
    await row.getByRole('link', { name }).click();
    await expect(page).toHaveURL(new RegExp(`/instances/${TEAM}/${name}$`));
    await hydrated(page);
    await page.evaluate(() => ((window as any).__qmNoReload = true));
    await expect(page.locator('[data-live="live"]')).toBeVisible();
    await expect(page.getByTestId('status-panel')).toHaveAttribute('data-phase', 'ready', { timeout: 30_000 });
    await expect(page.getByTestId('parameters')).toContainText('2,048 GB');

    // kubectl patch --type merge: the open page follows, and the broker reports the update.
    await mergePatchStorage(api, name, 3072);
    await expect(page.getByTestId('parameters')).toContainText('3,072 GB', { timeout: 30_000 });
    await expect(page.getByTestId('status-panel')).toHaveAttribute('data-phase', 'ready', { timeout: 60_000 });
    await expect(page.getByTestId('status-message')).toContainText('updated', { timeout: 60_000 });
    await noReload(page);
    await snap(page, testInfo, 'patched through the API, live on the page');

    // kubectl delete: the open page says so.
    const deleted = await api.delete(`${INSTANCES}/${name}`);
    expect(deleted.status(), await deleted.text()).toBeLessThan(300);
    await expect(page.getByText('This instance has been deleted')).toBeVisible({ timeout: 90_000 });
    await noReload(page);
    expect(errors).toEqual([]);
  } finally {
    await api.delete(`${INSTANCES}/${name}`).catch(() => undefined);
    await api.dispose();
    await revokeToken(page, id);
  }
});

test('requested in the browser: the API reads it back with the form\'s parameters; a merge patch shows on the open page', async ({ page }, testInfo) => {
  test.setTimeout(180_000);
  const { token, id } = await newToken(page);
  const api = await kubectl(token);
  const name = uniqueName('ui');
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await catalogWith(page, 'hdfs');
    await openHydrated(page, '/catalog/hdfs/request?plan=shared');
    await page.evaluate(() => ((window as any).__qmNoReload = true));
    await page.locator('#instance-name').fill(name);
    await page.locator('#instance-namespace').fill(TEAM);
    await page.locator('[data-field="/storageSpaceQuota"] input[name="/storageSpaceQuota"]').fill('4096');
    await page.getByTestId('review-request').click();
    await page.getByTestId('submit-request').click();
    await expect(page).toHaveURL(new RegExp(`/instances/${TEAM}/${name}$`));
    await expect(page.locator('[data-live="live"]')).toBeVisible();
    await expect(page.getByTestId('status-panel')).toHaveAttribute('data-phase', 'ready', { timeout: 60_000 });
    await expect(page.getByTestId('parameters')).toContainText('4,096 GB');

    // kubectl get: the same object, with what the form sent.
    const got = await api.get(`${INSTANCES}/${name}`);
    expect(got.status(), await got.text()).toBe(200);
    const object = await got.json();
    expect(object.kind).toBe('ServiceInstance');
    expect(object.metadata.name).toBe(name);
    expect(object.metadata.namespace).toBe(TEAM);
    expect(object.spec.clusterServiceClassExternalName).toBe('hdfs');
    expect(object.spec.clusterServicePlanExternalName).toBe('shared');
    expect(object.spec.parameters.storageSpaceQuota).toBe(4096);
    // Every parameter the page lists is one the API returns (the form's defaults included).
    const shown = await page.getByTestId('parameters').locator('dt').count();
    expect(Object.keys(object.spec.parameters)).toHaveLength(shown);
    // And it is in the list kubectl gets.
    const listed = await api.get(INSTANCES);
    expect(listed.status()).toBe(200);
    expect((await listed.json()).items.map((i: any) => i.metadata.name)).toContain(name);

    // kubectl patch --type merge on spec.parameters: the open page follows without a reload.
    await mergePatchStorage(api, name, 6144);
    await expect(page.getByTestId('parameters')).toContainText('6,144 GB', { timeout: 30_000 });
    await expect(page.getByTestId('status-panel')).toHaveAttribute('data-phase', 'ready', { timeout: 60_000 });
    await expect(page.getByTestId('status-message')).toContainText('updated', { timeout: 60_000 });
    await noReload(page);
    await snap(page, testInfo, 'requested in the browser, patched through the API');
    const after = await (await api.get(`${INSTANCES}/${name}`)).json();
    expect(after.spec.parameters.storageSpaceQuota).toBe(6144);
    expect(after.spec.parameters.namespaceQuota).toBe(object.spec.parameters.namespaceQuota);

    // Clean up through the UI's own delete.
    await page.getByTestId('delete-instance').click();
    await page.getByTestId('confirm-delete-button').click();
    await expect(page.getByText('This instance has been deleted')).toBeVisible({ timeout: 90_000 });
    const gone = await api.get(`${INSTANCES}/${name}`);
    expect(gone.status()).toBe(404);
    expect((await gone.json()).reason).toBe('NotFound');
    expect(errors).toEqual([]);
  } finally {
    await api.delete(`${INSTANCES}/${name}`).catch(() => undefined);
    await api.dispose();
    await revokeToken(page, id);
  }
});
