// The page in a real browser: Debian's chromium (/usr/bin/chromium, from
// scripts/install-deps.sh) driven by playwright-core, never a downloaded
// browser. The built app shows the stuck runs; recovery (the seed's POST, or
// the recover-stuck-runs tool) marks them FAILED; they leave the page within
// 2 seconds, without a reload. Screenshots: build/test-artifacts/nextjs/.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { useTestDatabase, DONE, LIVE, STUCK_AT_30 } from './helpers/db.ts';
import { startApp, type RunningApp } from './helpers/server.ts';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const ARTIFACTS = join(ROOT, 'build', 'test-artifacts', 'nextjs');
const CLI = join(ROOT, 'bin', 'recover-stuck-runs');
/** The bound: a recovered run leaves the page within 2 s. */
const LEAVES_WITHIN_MS = 2000;

const db = useTestDatabase('browser');
let app: RunningApp;
let context: BrowserContext;
let profile: string;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (scripts/install-deps.sh)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  await db.ready;
  app = await startApp(db.name);
  profile = mkdtempSync(join(tmpdir(), 'recovery-chromium-'));
  // A persistent context is how playwright takes a --user-data-dir: a fresh one per run.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 900, height: 560 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

after(async () => {
  await context?.close();
  await app?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** The runs the page lists, as the user reads them. */
async function listed(page: Page): Promise<{ id: string; status: string; progress: string }[]> {
  return page.$$eval('li[data-run-id]', (items) =>
    items.map((li) => ({
      id: li.querySelector('.run-id')?.textContent ?? '',
      status: li.querySelector('.status')?.textContent ?? '',
      progress: li.querySelector('.progress')?.textContent ?? '',
    })),
  );
}

async function openPage(): Promise<Page> {
  const page = await context.newPage();
  const response = await page.goto(app.url, { waitUntil: 'load' });
  assert.equal(response?.status(), 200);
  // Hydrated and subscribed to the event stream.
  await page.waitForSelector('#connection[data-connection="live"]', { timeout: 15_000 });
  // A reload or a navigation would lose this.
  await page.evaluate(() => ((window as unknown as { noReload: boolean }).noReload = true));
  return page;
}

/** Waits until none of `ids` is on the page; returns how long that took (ms). */
async function waitUntilGone(page: Page, ids: string[], started: number): Promise<number> {
  await page.waitForFunction(
    (gone) => gone.every((id) => !document.querySelector(`li[data-run-id="${id}"]`)),
    ids,
    { timeout: 10_000, polling: 50 },
  );
  return Date.now() - started;
}

test('the page lists the stuck runs; POST {"timeout": 30} recovers them and they leave the page without a reload', async () => {
  const page = await openPage();
  // Oldest first: the PENDING run (2 h), the PROCESSING one (45 min), the live one (3 h old, active a minute ago).
  const before = await listed(page);
  assert.deepEqual(
    before.sort((a, b) => a.id.localeCompare(b.id)),
    [
      { id: STUCK_AT_30[0], status: 'PROCESSING', progress: '3/10' },
      { id: STUCK_AT_30[1], status: 'PENDING', progress: '0/5' },
      { id: LIVE, status: 'PROCESSING', progress: '6/10' },
    ].sort((a, b) => a.id.localeCompare(b.id)),
  );
  assert.equal(await page.locator(`text=${DONE}`).count(), 0, 'a COMPLETED run is not listed');
  await page.screenshot({ path: join(ARTIFACTS, '1-active-runs.png'), fullPage: true });

  const started = Date.now();
  const response = await fetch(`${app.url}/api/qualify/recovery`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ timeout: 30 }),
  });
  const body = (await response.json()) as { recovered: number };
  assert.equal(body.recovered, 2);
  const elapsed = await waitUntilGone(page, STUCK_AT_30, started);
  assert.ok(elapsed < LEAVES_WITHIN_MS, `the recovered runs left the page after ${elapsed} ms`);
  console.log(`browser: recovered runs left the page ${elapsed} ms after the POST was sent`);

  assert.equal(await page.evaluate(() => (window as unknown as { noReload?: boolean }).noReload), true, 'no reload');
  assert.deepEqual(await listed(page), [{ id: LIVE, status: 'PROCESSING', progress: '6/10' }]);
  assert.match((await page.textContent('#recovered-note')) ?? '', /2 stuck runs were recovered/);
  await page.screenshot({ path: join(ARTIFACTS, '2-after-recovery.png'), fullPage: true });
  await page.close();
});

test('a recovery from outside the app (the recover-stuck-runs tool) also reaches the open page', async () => {
  const page = await openPage();
  assert.equal((await listed(page)).length, 3);
  const started = Date.now();
  // --timeout=1: the live run was last active a minute ago, so this time it is stuck too.
  const { stdout } = await promisify(execFile)('bash', [CLI, '--timeout=1', '-d', db.name]).catch(
    (error: { code?: number; stdout?: string; stderr?: string }) => {
      if (error.code === 1) return { stdout: error.stdout ?? '' }; // 1: runs were recovered
      throw new Error(`recover-stuck-runs failed: ${error.stderr}`);
    },
  );
  assert.match(stdout, /Recovered 3 stuck run/);
  const elapsed = await waitUntilGone(page, [...STUCK_AT_30, LIVE], started);
  assert.ok(elapsed < LEAVES_WITHIN_MS, `the runs left the page after ${elapsed} ms`);
  assert.equal(await page.evaluate(() => (window as unknown as { noReload?: boolean }).noReload), true, 'no reload');
  await page.waitForSelector('#no-active-runs');
  await page.screenshot({ path: join(ARTIFACTS, '3-no-active-runs.png'), fullPage: true });
  await page.close();
});
