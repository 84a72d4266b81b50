import { test, expect, type Page } from '@playwright/test';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { openHydrated, snap, uniqueName } from './helpers';

// A broker whose catalog attacks the portal: markup and event handlers in every text, a
// `javascript:` image URL, a schema nested 200 levels deep, a cyclic local $ref, 10,000 enum
// values, and (second broker) a 10 MB description. Nothing may run in the browser; the portal
// must stay usable and say what is wrong per plan.

const XSS = `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">`;

function deep(levels: number): object {
  let schema: object = { type: 'string', title: `leaf ${XSS}` };
  for (let i = 0; i < levels; i++) schema = { type: 'object', properties: { nested: schema } };
  return schema;
}

function plan(id: string, name: string, parameters: object) {
  return {
    id, name, description: `${name} ${XSS}`, free: true,
    metadata: { displayName: `Plan ${XSS}`, bullets: [XSS, 'javascript:alert(1)'] },
    schemas: { service_instance: { create: { parameters } } },
  };
}

function hostileCatalog(prefix: string) {
  return {
    services: [{
      id: `${prefix}-svc`, name: `${prefix}-evil`, description: `One line ${XSS}`, bindable: true,
      tags: [XSS, 'hostile'],
      metadata: {
        displayName: `Evil ${XSS}`, imageUrl: 'javascript:window.__pwned=1', longDescription: `Long ${XSS}`,
        providerDisplayName: `<b onmouseover="window.__pwned=1">Provider</b>`,
        documentationUrl: 'javascript:window.__pwned=1', supportUrl: 'javascript:window.__pwned=1',
      },
      plans: [
        plan(`${prefix}-markup`, 'markup', {
          $schema: 'http://json-schema.org/draft-04/schema#', type: 'object',
          properties: { [`size ${XSS}`]: { type: 'integer', title: XSS, description: XSS, minimum: 1, maximum: 10, default: 1 } },
        }),
        plan(`${prefix}-deep`, 'deep', { $schema: 'http://json-schema.org/draft-04/schema#', ...deep(200) }),
        plan(`${prefix}-cyclic`, 'cyclic', {
          $schema: 'http://json-schema.org/draft-04/schema#', type: 'object',
          definitions: { node: { type: 'object', properties: { next: { $ref: '#/definitions/node' } } } },
          properties: { root: { $ref: '#/definitions/node' } },
        }),
        plan(`${prefix}-enum`, 'enum', {
          $schema: 'http://json-schema.org/draft-04/schema#', type: 'object',
          properties: { choice: { type: 'string', enum: Array.from({ length: 10_000 }, (_, i) => `v${i} ${XSS}`) } },
        }),
      ],
    }],
  };
}

let server: http.Server;
let base = '';

test.beforeAll(async () => {
  const huge = 'x'.repeat(10 * 1024 * 1024);
  server = http.createServer((req, res) => {
    const url = req.url ?? '';
    if (url.startsWith('/hostile/v2/catalog')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(hostileCatalog('hostile')));
    } else if (url.startsWith('/huge/v2/catalog')) {
      const catalog = hostileCatalog('huge');
      catalog.services[0].description = huge;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(catalog));
    } else {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"description":"not here"}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

test.afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

/** Fails the test if anything the broker sent ran: a dialog, the marker, a page error. */
function guard(page: Page) {
  const ran: string[] = [];
  page.on('dialog', async (d) => {
    ran.push(`dialog: ${d.message()}`);
    await d.dismiss();
  });
  page.on('pageerror', (e) => ran.push(`page error: ${e}`));
  return async () => {
    const pwned = await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned);
    expect(pwned, 'no broker-supplied script ran').toBeUndefined();
    expect(ran, 'no dialogs or page errors').toEqual([]);
  };
}

async function register(page: Page, name: string, url: string) {
  await openHydrated(page, '/admin/brokers');
  await page.getByTestId('open-register').click();
  await page.locator('#broker-name').fill(name);
  await page.locator('#broker-url').fill(url);
  await page.getByTestId('register').click();
  await expect(page.getByTestId('notice')).toContainText(`Broker ${name} registered`);
}

test('a hostile catalog is shown as text, runs nothing, and its problems are reported per plan', async ({ page }, testInfo) => {
  test.setTimeout(180_000);
  const check = guard(page);
  const hostile = uniqueName('hostile');
  const huge = uniqueName('huge');
  await register(page, hostile, `${base}/hostile`);
  await register(page, huge, `${base}/huge`);

  // The huge catalog is refused with a reason on the broker; the hostile one is listed with problems.
  const hugeRow = page.locator(`[data-broker="${huge}"]`);
  await expect(async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(hugeRow.locator('[data-status="failed"]')).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 60_000 });
  const hostileRow = page.locator(`[data-broker="${hostile}"]`);
  await expect(async () => {
    await page.getByRole('button', { name: 'Refresh' }).click();
    await expect(hostileRow).toContainText(/problem/i, { timeout: 1_000 });
  }).toPass({ timeout: 60_000 });
  await snap(page, testInfo, 'hostile brokers in admin');
  await check();

  // Problems are reported per plan: the deep and the 10,000-value schemas are refused by name.
  const planProblems = hostileRow.getByTestId('plan-problems');
  await expect(planProblems).toContainText('/ deep');
  await expect(planProblems).toContainText('nests deeper');
  await expect(planProblems).toContainText('/ enum');
  await expect(planProblems).toContainText('more than the limit');
  await expect(planProblems).not.toContainText('/ markup');
  // The huge catalog's refusal says why.
  await expect(hugeRow.getByTestId('broker-state')).toContainText(/large|limit|bytes/i);

  // The catalog, the class page and every plan's form: markup shows as text, nothing runs.
  const tile = page.locator('[data-testid="catalog-tile"][data-class="hostile-evil"]');
  await expect(async () => {
    await openHydrated(page, '/catalog?q=hostile-evil');
    await expect(tile).toBeVisible({ timeout: 2_000 });
  }).toPass({ timeout: 60_000 });
  await expect(tile).toContainText('<script>window.__pwned=1</script>');
  await expect(page.locator('script:has-text("__pwned")')).toHaveCount(0);
  await expect(page.locator('img[onerror], [onmouseover]')).toHaveCount(0);
  await expect(page.locator('[src^="javascript:"], [href^="javascript:"]')).toHaveCount(0);
  await snap(page, testInfo, 'hostile tile');
  await check();
  const href = await tile.locator('a').first().getAttribute('href');
  expect(href).toMatch(/^\/catalog\//);
  await tile.locator('a').first().click();
  await expect(page).toHaveURL(new RegExp(`${href}$`));
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(page.locator('main')).toContainText('Evil <script>');
  await expect(page.locator('[src^="javascript:"], [href^="javascript:"]')).toHaveCount(0);
  await snap(page, testInfo, 'hostile class page');
  await check();
  for (const planName of ['markup', 'deep', 'cyclic', 'enum']) {
    const started = Date.now();
    await openHydrated(page, `${href}/request?plan=${planName}`);
    await expect(page.getByTestId('plan-switcher')).toBeVisible();
    await expect(page.locator('img[onerror], [onmouseover], [src^="javascript:"], [href^="javascript:"]')).toHaveCount(0);
    // The cyclic $ref is allowed (it is local) but cannot be a form: the field says so.
    if (planName === 'cyclic') await expect(page.locator('main')).toContainText('this setting is recursive');
    testInfo.annotations.push({ type: 'timing', description: `${planName} form ready in ${Date.now() - started} ms` });
    await snap(page, testInfo, `form ${planName}`);
    await check();
  }
  // Still responsive: the ordinary catalog answers.
  await openHydrated(page, '/catalog');
  await check();
});
