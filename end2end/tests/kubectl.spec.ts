import { readFileSync } from 'node:fs';
import { test, expect } from '@playwright/test';
import { openHydrated, snap } from './helpers';

// "Use with kubectl": the account menu leads to the instances page's panel, whose button downloads
// a kubeconfig with a fresh API token of the signed-in person; the token works against the
// Kubernetes-style API. The REST API's reference is linked from there too.
test('the kubeconfig button downloads a kubeconfig whose token reaches the API', async ({ page, playwright, baseURL }, testInfo) => {
  await openHydrated(page, '/');
  await page.getByTestId('user').click();
  await page.getByTestId('kubectl-menu-link').click();
  await expect(page).toHaveURL(/\/instances#kubectl$/);
  const panel = page.getByTestId('kubectl-panel');
  await expect(panel).toBeVisible();
  await expect(panel.getByRole('heading', { name: 'Use with kubectl' })).toBeVisible();
  await snap(page, testInfo, 'kubectl panel');

  const [download] = await Promise.all([page.waitForEvent('download'), panel.getByTestId('kubeconfig-download').click()]);
  expect(download.suggestedFilename()).toMatch(/^quartermaster(-[a-z0-9-]+)?\.kubeconfig$/);
  const text = readFileSync(await download.path(), 'utf8');
  expect(text).toContain('kind: Config');
  expect(text).toContain(`server: ${baseURL}`);
  const token = /token: (qm_\S+)/.exec(text)?.[1];
  expect(token, text).toBeTruthy();
  const team = /namespace: (\S+)/.exec(text)?.[1];

  // The token is the admin's: the Kubernetes-style API answers it (no cookie).
  const api = await playwright.request.newContext({ baseURL, storageState: { cookies: [], origins: [] } });
  const path = team
    ? `/apis/servicecatalog.k8s.io/v1beta1/namespaces/${team}/serviceinstances`
    : '/apis/servicecatalog.k8s.io/v1beta1/serviceinstances';
  const listed = await api.get(path, { headers: { Authorization: `Bearer ${token}` } });
  expect(listed.status(), await listed.text()).toBe(200);
  expect((await listed.json()).kind).toBe('ServiceInstanceList');
  const refused = await api.get(path);
  expect(refused.status()).toBe(401);
  await api.dispose();

  // The token shows up under My API tokens, to revoke.
  await openHydrated(page, '/account/tokens');
  await expect(page.getByText(/kubectl /).first()).toBeVisible();

  // The REST API's reference.
  await openHydrated(page, '/instances');
  await page.getByTestId('rest-docs-link').click();
  await expect(page.getByRole('heading', { name: 'Quartermaster REST API' })).toBeVisible();
  await expect(page.getByText('/rest/v1/approvals/{id}/reject')).toBeVisible();
  await snap(page, testInfo, 'REST API reference');
});
