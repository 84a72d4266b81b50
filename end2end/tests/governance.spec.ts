import { test, expect, type Page } from '@playwright/test';
import { ADMIN_STATE, asUser, baseURL, chooseOwnPassword, newPerson, snap, uniqueName } from './helpers';

// Approvals and quotas in two browsers: a member requests HDFS above the approval threshold and
// watches the request wait; an admin (a second browser context) approves it; the member's page
// goes Pending approval → Provisioning → Ready without a reload. A request over the team's
// quota is refused with the message.
test.describe.configure({ mode: 'serial' });

const THRESHOLD = '10240';

async function addPolicy(admin: Page) {
  await asUser(admin, 'admin', '/admin/policies');
  await admin.getByTestId('policy-class').selectOption('hdfs');
  await admin.locator('#policy-operation').selectOption('create');
  await admin.getByTestId('policy-rule').selectOption('threshold');
  await admin.getByTestId('policy-parameter').fill('storageSpaceQuota');
  await admin.getByTestId('policy-threshold').fill(THRESHOLD);
  await admin.getByTestId('add-policy').click();
  await expect(admin.getByTestId('policies')).toContainText('needs approval when storageSpaceQuota > 10,240');
}

async function addQuota(admin: Page, team: string) {
  await asUser(admin, 'admin', '/admin/quotas');
  await admin.getByTestId('quota-team').fill(team);
  await admin.getByTestId('quota-metric').selectOption('sum');
  await admin.getByTestId('quota-parameter').fill('storageSpaceQuota');
  await admin.getByTestId('quota-max').fill('51200');
  await admin.getByTestId('add-quota').click();
  await expect(admin.getByTestId('quotas')).toContainText(team);
}

async function fillRequest(member: Page, team: string, name: string, storage: string) {
  await asUser(member, 'mia', '/catalog/hdfs/request?plan=shared');
  await member.locator('#instance-name').fill(name);
  await member.locator('#instance-namespace').fill(team);
  const field = member.locator('[data-field="/storageSpaceQuota"]');
  await field.locator('input[name="/storageSpaceQuota"]').fill(storage);
  return field;
}

test('a request over the threshold waits for approval; the approval reaches the requester live; over quota is refused', async ({ browser }, testInfo) => {
  test.setTimeout(180_000);
  const team = uniqueName('gov');
  const name = uniqueName('big');
  // The admin (the signed-in state every spec starts from) and a new member of a new team.
  const adminContext = await browser.newContext({ storageState: ADMIN_STATE });
  const memberContext = await browser.newContext({ storageState: { cookies: [], origins: [] } });
  const admin = await adminContext.newPage();
  const member = await memberContext.newPage();
  await asUser(admin, 'admin', '/admin/people');
  const made = await admin.request.post('/api/create_team', { form: { name: team, display_name: team }, headers: { Origin: baseURL } });
  expect(await made.json()).toEqual({ Done: null });
  const mia = uniqueName('mia');
  const oneTime = await newPerson(admin, mia, team);
  await chooseOwnPassword(member, mia, oneTime, 'mia-chooses-a-long-password');
  const errors: string[] = [];
  member.on('pageerror', (e) => errors.push(String(e)));

  await addPolicy(admin);
  await addQuota(admin, team);
  await snap(admin, testInfo, 'quota set');

  // The form shows the team's quota beside the governed field.
  const field = await fillRequest(member, team, name, '20480');
  await expect(field.locator('[data-hint]')).toContainText('0 GB in use, 51,200 GB left of 51,200 GB');
  await member.getByTestId('review-request').click();
  await member.getByTestId('submit-request').click();

  // Held: the member's page says so, and stays on it.
  await expect(member).toHaveURL(new RegExp(`/instances/${team}/${name}$`));
  await expect(member.locator('[data-status="pending-approval"]')).toBeVisible();
  await expect(member.getByTestId('approval-panel')).toHaveAttribute('data-state', 'pending');
  await expect(member.getByTestId('approval-panel')).toContainText('20,480 is above 10,240');
  await expect(member.locator('[data-live="live"]')).toBeVisible();
  await member.evaluate(() => ((window as any).__qmNoReload = true));
  await snap(member, testInfo, 'pending approval');

  // The admin's queue shows the request with its quota; approve it with a comment.
  await asUser(admin, 'admin', '/approvals');
  const card = admin.locator(`[data-testid="approval"][data-instance="${name}"]`);
  await expect(card).toContainText(team);
  await expect(card.getByTestId('quota-impact')).toContainText('0 → 20,480 of 51,200');
  await snap(admin, testInfo, 'approval queue');
  await card.getByTestId('approval-comment').fill('approved for the migration');
  await card.getByTestId('approve').click();
  await expect(card).toHaveCount(0);

  // The member's page follows, without a reload: Provisioning, then Ready.
  await expect(member.getByTestId('status-panel')).toBeVisible({ timeout: 15_000 });
  await expect(member.getByTestId('status-panel')).toHaveAttribute('data-phase', 'ready', { timeout: 60_000 });
  await expect(member.getByTestId('approval-panel')).toHaveCount(0);
  expect(await member.evaluate(() => (window as any).__qmNoReload)).toBe(true);
  await snap(member, testInfo, 'ready after approval');

  // Over the quota (20,480 of 51,200 used): refused with the message, beside the field too.
  const over = await fillRequest(member, team, uniqueName('huge'), '40000');
  await expect(over.locator('[data-hint]')).toContainText('30,720 GB left');
  await expect(over.locator('[data-hint]')).toContainText('over what is left');
  await member.getByTestId('review-request').click();
  await member.getByTestId('submit-request').click();
  await expect(member.getByTestId('error-box')).toContainText(`Over team ${team}'s quota`);
  await expect(member.getByTestId('error-box')).toContainText('30,720 left');
  await expect(member).toHaveURL(/\/catalog\/hdfs\/request/);
  await snap(member, testInfo, 'over quota refused');
  expect(errors).toEqual([]);

  // Leave the portal as it was for the other specs (which request in the first team offered):
  // delete the instance (no policy holds deletes) and remove the policy.
  await asUser(member, 'mia', `/instances/${team}/${name}`);
  await member.getByTestId('delete-instance').click();
  await member.getByTestId('confirm-delete-button').click();
  await expect(member.getByText('This instance has been deleted')).toBeVisible({ timeout: 60_000 });
  await asUser(admin, 'admin', '/admin/policies');
  const rows = admin.getByTestId('policies').locator('tr', { hasText: 'storageSpaceQuota > 10,240' });
  while ((await rows.count()) > 0) {
    const before = await rows.count();
    await rows.first().getByRole('button', { name: 'Remove' }).click();
    await expect(rows).toHaveCount(before - 1);
  }
  await adminContext.close();
  await memberContext.close();
});

test('an update held for approval shows its parameter diff, previous → new, in the queue', async ({ browser }, testInfo) => {
  test.setTimeout(180_000);
  const team = uniqueName('upd');
  const name = uniqueName('grow');
  const context = await browser.newContext({ storageState: ADMIN_STATE });
  const page = await context.newPage();
  const post = async (endpoint: string, form: Record<string, string>) =>
    expect(await (await page.request.post(`/api/${endpoint}`, { form, headers: { Origin: baseURL } })).json()).toEqual({ Done: null });
  await asUser(page, 'admin', '/admin/people');
  await post('create_team', { name: team, display_name: team });
  await post('set_membership', { team, username: 'admin', role: 'team-admin' });
  // Updates of HDFS above 15,000 GB need approval (a threshold no other spec uses, to remove it after).
  const rule = 'storageSpaceQuota > 15,000';
  const policies = () => page.getByTestId('policies').locator('tr', { hasText: rule });
  try {
    // Created below the threshold (creates are not governed by this policy): provisioned at once.
    await asUser(page, 'admin', '/catalog/hdfs/request?plan=shared');
    await page.locator('#instance-name').fill(name);
    await page.locator('#instance-namespace').fill(team);
    await page.locator('[data-field="/storageSpaceQuota"] input[name="/storageSpaceQuota"]').fill('4096');
    await page.getByTestId('review-request').click();
    await page.getByTestId('submit-request').click();
    await expect(page).toHaveURL(new RegExp(`/instances/${team}/${name}$`));
    await expect(page.getByTestId('status-panel')).toHaveAttribute('data-phase', 'ready', { timeout: 60_000 });

    await asUser(page, 'admin', '/admin/policies');
    await page.getByTestId('policy-class').selectOption('hdfs');
    await page.locator('#policy-operation').selectOption('update');
    await page.getByTestId('policy-rule').selectOption('threshold');
    await page.getByTestId('policy-parameter').fill('storageSpaceQuota');
    await page.getByTestId('policy-threshold').fill('15000');
    await page.getByTestId('add-policy').click();
    await expect(policies()).toHaveCount(1);

    // The update above the threshold: held, and the instance keeps its parameters meanwhile.
    await asUser(page, 'admin', `/instances/${team}/${name}`);
    await page.getByTestId('edit-instance').click();
    const box = page.getByTestId('update-panel').locator('input[name="/storageSpaceQuota"]');
    await expect(box).toHaveValue('4,096');
    await box.fill('20480');
    await page.getByTestId('submit-update').click();
    const panel = page.getByTestId('approval-panel');
    // Seen once taking longer than the default 15 s in Kubernetes mode (cause not found; the panel
    // was on the page by the end of that test).
    await expect(panel).toHaveAttribute('data-state', 'pending', { timeout: 60_000 });
    await expect(panel).toContainText('20,480 is above 15,000');
    await expect(page.getByTestId('parameters')).toContainText('4,096 GB');

    // The queue: a change request, with the changed parameter from the value now to the one asked for.
    await asUser(page, 'admin', '/approvals');
    const card = page.locator(`[data-testid="approval"][data-instance="${name}"]`);
    await expect(card).toHaveCount(1);
    await expect(card.getByRole('heading', { level: 2 })).toHaveText(`Change ${name} in team ${team}`);
    await expect(card.getByRole('heading', { name: 'Changes' })).toBeVisible();
    const diff = card.getByTestId('request-parameters');
    await expect(diff.locator('thead th')).toHaveText(['Parameter', 'Now', 'Asked for']);
    // Only what changes is listed: storageSpaceQuota, 4,096 → 20,480.
    await expect(diff.locator('tbody tr')).toHaveCount(1);
    await expect(diff.locator('tbody tr').first().locator('td')).toHaveText(['storageSpaceQuota', '4,096', '20,480']);
    await snap(page, testInfo, 'update diff in the queue');

    // Rejected: the instance keeps 4,096.
    await card.getByTestId('approval-comment').fill('not this quarter');
    await card.getByTestId('reject').click();
    await expect(card).toHaveCount(0);
    await expect(page.getByTestId('decided')).toContainText('not this quarter');
    await asUser(page, 'admin', `/instances/${team}/${name}`);
    await expect(page.getByTestId('parameters')).toContainText('4,096 GB');
  } finally {
    // Leave the portal as it was: the policy removed, the instance deleted.
    await asUser(page, 'admin', '/admin/policies');
    while ((await policies().count()) > 0) {
      const before = await policies().count();
      await policies().first().getByRole('button', { name: 'Remove' }).click();
      await expect(policies()).toHaveCount(before - 1);
    }
    await asUser(page, 'admin', `/instances/${team}/${name}`);
    if (await page.getByTestId('delete-instance').isVisible()) {
      await page.getByTestId('delete-instance').click();
      await page.getByTestId('confirm-delete-button').click();
      await expect(page.getByText('This instance has been deleted')).toBeVisible({ timeout: 60_000 });
    }
    await context.close();
  }
});
