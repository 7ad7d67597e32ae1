import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from '@failway/stack';
import { findTool, waitFor } from '@failway/testkit';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { railSimAdmin, startApp, upstreams } from './support.ts';

const browserBinary = findTool('Chromium', 'CHROMIUM_PATH', [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
]);
if (!browserBinary.path) console.warn(browserBinary.reason);
const OUTPUT = resolve(REPO_ROOT, 'test-output');

describe.skipIf(!browserBinary.path)('the departures board page in Chromium', () => {
  let app: Awaited<ReturnType<typeof startApp>>;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    app = await startApp();
    browser = await chromium.launch({
      executablePath: browserBinary.path,
      // No sandbox as root in CI; no background networking, which this machine's closed network refuses.
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  });

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  const rows = () => page.locator('#board tbody tr');

  it('when opened, then it shows the next trains from West Hampstead Thameslink to Luton Airport Parkway with the IDs to search for', async () => {
    await page.goto(`${app.stack.gateway.url}/`);
    await expect
      .poll(() => page.locator('#board-title').textContent(), { timeout: 10_000 })
      .toBe('West Hampstead Thameslink to Luton Airport Parkway');
    expect(await rows().count()).toBeGreaterThan(0);
    expect(await page.locator('#board tbody tr').first().locator('td.time').textContent()).toMatch(
      /^\d\d:\d\d$/,
    );
    expect(await page.locator('#request-id').textContent()).toMatch(/^[0-9a-f-]{36}$/);
    expect(await page.locator('#trace-id').textContent()).toMatch(/^[0-9a-f]{32}$/);
    expect(await page.locator('#stale-banner').isHidden()).toBe(true);
    expect(await page.locator('label[for="from"]').textContent()).toBe('From');
    await page.screenshot({ path: resolve(OUTPUT, 'board.png'), fullPage: true });
  });

  it('when another route is picked, then the board and the address change to it', async () => {
    const before = await page.locator('#request-id').textContent();
    await page.selectOption('#preset', 'stp-bdm');
    await expect
      .poll(() => page.locator('#board-title').textContent(), { timeout: 10_000 })
      .toBe('London St Pancras (Intl) to Bedford');
    expect(await rows().count()).toBeGreaterThan(0);
    expect(page.url()).toContain('from=STP');
    expect(await page.locator('#request-id').textContent()).not.toBe(before);
  });

  it('when both replicas are banned, then a route seen before shows its last board under a stale banner', async () => {
    const { stack } = app;
    for (const ip of stack.replicaAddresses) {
      expect((await railSimAdmin(stack, '/admin/bans', 'POST', { ip, seconds: 600 })).status).toBe(201);
    }
    // Each replica learns of its ban on its next upstream call: ask for routes nobody has cached.
    await waitFor('both replicas banned', async () => {
      await fetch(`${stack.gateway.url}/api/departures?from=MIL&to=RDT`);
      await fetch(`${stack.gateway.url}/api/departures?from=HEN&to=ELS`);
      return (await upstreams(stack)).every((m) => m.state === 'banned') ? true : undefined;
    });
    await page.selectOption('#preset', 'whp-ltn');
    await expect.poll(() => page.locator('#stale-banner').isVisible(), { timeout: 10_000 }).toBe(true);
    expect(await page.locator('#stale-banner').textContent()).toMatch(
      /Live times are unavailable right now\. These trains are from .+ ago\./,
    );
    expect(await rows().count()).toBeGreaterThan(0);
    await page.screenshot({ path: resolve(OUTPUT, 'board-stale.png'), fullPage: true });

    await page.selectOption('#from', 'CRI');
    await page.selectOption('#to', 'HLN');
    await page.click('button[type="submit"]');
    await expect.poll(() => page.locator('#error').isVisible(), { timeout: 10_000 }).toBe(true);
    expect(await page.locator('#error').textContent()).toMatch(/try again in \d+ minutes/);
  });
});
