import { readFileSync } from 'node:fs';
import { test, expect } from '@playwright/test';
import { parseAllDocuments } from 'yaml';
import { catalogWith, openHydrated, snap, uniqueName } from './helpers';

// Objects made through the API show up live in the browser; every instance has its manifest,
// to view and download; a pasted manifest is applied with the checks kubectl gets.
test.describe.configure({ mode: 'serial' });

function instanceYaml(name: string, storage: number) {
  return `apiVersion: servicecatalog.k8s.io/v1beta1
kind: ServiceInstance
metadata:
  name: ${name}
  namespace: default
spec:
  clusterServiceClassExternalName: hdfs
  clusterServicePlanExternalName: shared
  parameters:
    namespaceQuota: 10000
    storageSpaceQuota: ${storage}
`;
}

test('an instance created through the API appears live; its manifest downloads and applies again', async ({ page, request, baseURL }, testInfo) => {
  test.setTimeout(180_000);
  const name = uniqueName('api');
  await catalogWith(page, 'hdfs');
  await openHydrated(page, '/instances');
  await page.evaluate(() => ((window as any).__qmNoReload = true));

  // Created outside the browser, through the portal's manifest API.
  const created = await request.post('/manifests/apply', { data: instanceYaml(name, 2048), headers: { 'content-type': 'application/yaml', Origin: baseURL! } });
  expect(created.status()).toBe(200);
  expect((await created.json())[0].action).toBe('created');

  const row = page.locator(`[data-instance="default/${name}"]`);
  await expect(row).toBeVisible({ timeout: 30_000 });
  await expect(row.locator('[data-status="ready"]')).toBeVisible({ timeout: 60_000 });
  expect(await page.evaluate(() => (window as any).__qmNoReload)).toBe(true);
  await snap(page, testInfo, 'instance from the API, live');

  // Its manifest: viewed, downloaded.
  await openHydrated(page, `/instances/default/${name}`);
  await expect(page.getByTestId('manifest-view')).toHaveAttribute('href', `/manifests/serviceinstances/default/${name}`);
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('manifest-download').click()]);
  const path = await download.path();
  const text = readFileSync(path, 'utf8');
  expect(text).toContain(`name: ${name}`);
  expect(text).toContain('storageSpaceQuota: 2048');
  expect(text).not.toContain('resourceVersion');
  const viewed = await request.get(`/manifests/serviceinstances/default/${name}`);
  expect(await viewed.text()).toBe(text);

  // Pasted back on the Apply page with a bigger quota: configured; a bad value: the field is named.
  await openHydrated(page, '/apply');
  await page.getByTestId('manifest-input').fill(text.replace('storageSpaceQuota: 2048', 'storageSpaceQuota: 1'));
  await page.getByTestId('apply-submit').click();
  await expect(page.getByTestId('apply-error')).toContainText('spec.parameters.storageSpaceQuota');
  await snap(page, testInfo, 'apply refused');
  await page.getByTestId('manifest-input').fill(text.replace('storageSpaceQuota: 2048', 'storageSpaceQuota: 4096'));
  await page.getByTestId('apply-submit').click();
  await expect(page.getByTestId('applied-row')).toContainText('configured');
  await snap(page, testInfo, 'applied');
  await page.getByTestId('applied-row').locator('a').click();
  await expect(page).toHaveURL(new RegExp(`/instances/default/${name}$`));
  await expect(page.getByTestId('parameters')).toContainText('4,096 GB', { timeout: 30_000 });

  // Clean up through the UI's own delete.
  await page.getByTestId('delete-instance').click();
  await page.getByTestId('confirm-delete-button').click();
  await expect(page.getByText('This instance has been deleted')).toBeVisible({ timeout: 60_000 });
});

test('a binding\'s manifest is a ServiceBinding to keep in git: its name, namespace and instance, no credentials', async ({ page, request, baseURL }, testInfo) => {
  test.setTimeout(180_000);
  const name = uniqueName('bound');
  await catalogWith(page, 'hdfs');
  const created = await request.post('/manifests/apply', { data: instanceYaml(name, 1024), headers: { 'content-type': 'application/yaml', Origin: baseURL! } });
  expect(created.status(), await created.text()).toBe(200);

  await openHydrated(page, `/instances/default/${name}`);
  await expect(page.getByTestId('status-panel')).toHaveAttribute('data-phase', 'ready', { timeout: 60_000 });
  await page.getByTestId('new-binding').click();
  await page.getByTestId('create-binding').click();
  const binding = page.getByTestId('binding').first();
  await expect(binding.locator('[data-status="ready"]')).toBeVisible({ timeout: 60_000 });
  const bindingName = await binding.getAttribute('data-binding');
  expect(bindingName).toBeTruthy();

  // The credentials, revealed, to make sure none of them is in the manifest.
  await binding.getByTestId('reveal-credentials').click();
  const values = binding.getByTestId('credential-values');
  await expect(values.locator('[data-credential="uri"]')).toContainText('hdfs://');
  const credentials: Record<string, string> = {};
  for (const cell of await values.locator('[data-credential]').all()) {
    credentials[(await cell.getAttribute('data-credential'))!] = (await cell.innerText()).trim();
  }
  expect(Object.keys(credentials)).toEqual(expect.arrayContaining(['uri', 'principal']));
  await binding.getByTestId('hide-credentials').click();

  // Viewed and downloaded: the same YAML.
  const url = `/manifests/servicebindings/default/${bindingName}`;
  await expect(binding.getByTestId('manifest-view')).toHaveAttribute('href', url);
  const [download] = await Promise.all([page.waitForEvent('download'), binding.getByTestId('manifest-download').click()]);
  // The server names the file (its Content-Disposition wins over the link's download attribute).
  expect(download.suggestedFilename()).toBe(`servicebinding-${bindingName}.yaml`);
  const text = readFileSync(await download.path(), 'utf8');
  const viewed = await request.get(url);
  expect(viewed.status()).toBe(200);
  // Plain text, so the Manifest link shows it in a tab; the download link adds the attachment header.
  expect(viewed.headers()['content-type']).toBe('text/plain; charset=utf-8');
  expect(await viewed.text()).toBe(text);
  await testInfo.attach('binding manifest', { body: text, contentType: 'text/plain' });

  // Valid YAML: one document, a ServiceBinding of this instance, nothing the server fills in.
  const documents = parseAllDocuments(text);
  expect(Array.isArray(documents) ? documents.length : -1, text).toBe(1);
  const document = (documents as any)[0];
  expect(document.errors, text).toEqual([]);
  const manifest = document.toJS();
  expect(manifest.apiVersion).toBe('servicecatalog.k8s.io/v1beta1');
  expect(manifest.kind).toBe('ServiceBinding');
  expect(manifest.metadata).toEqual(expect.objectContaining({ name: bindingName, namespace: 'default' }));
  expect(manifest.spec.instanceRef).toEqual({ name });
  expect(manifest.status).toBeUndefined();
  expect(manifest.metadata.resourceVersion).toBeUndefined();
  expect(manifest.metadata.uid).toBeUndefined();
  // No credentials: neither their values nor any field that could carry them.
  // (The broker echoes the binding's own parameters among the credentials, e.g. accessMode: those
  // are what the manifest asks for, not secrets.)
  const asked = Object.values(manifest.spec.parameters ?? {}).map(String);
  for (const [key, value] of Object.entries(credentials)) {
    if (value.length < 6 || asked.includes(value)) continue;
    expect(text, `the manifest holds the credential ${key}`).not.toContain(value);
  }
  expect(text).not.toMatch(/credentials|password|hdfs:\/\//i);
  expect(Object.keys(manifest).sort()).toEqual(['apiVersion', 'kind', 'metadata', 'spec']);

  // Clean up through the UI's own delete (the binding goes first).
  await page.getByTestId('delete-instance').click();
  await page.getByTestId('confirm-delete-button').click();
  await expect(page.getByText('This instance has been deleted')).toBeVisible({ timeout: 90_000 });
});
