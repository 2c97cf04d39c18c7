/**
 * Headless Chromium for tests: Debian's `chromium` (apt; .ci/run installs it) driven by npm `playwright-core`
 * (no browser download). Each launch gets a fresh user-data-dir, removed on close, so no cache, Cache API entry or
 * service worker leaks from one test into the next.
 *
 *   describeBrowser('script tag', () => {
 *     let browser: Browser;
 *     beforeAll(async () => (browser = await launchBrowser()));
 *     afterAll(() => browser?.close());
 *     it('…', async () => { const page = await browser.newPage(); … });
 *   });
 *
 * Console lines and uncaught page errors of every page are kept in `browser.log` (printed by tests on failure).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { describe } from 'vitest';

/** The Chromium binary: $WEFT_CHROMIUM, else Debian's. */
export const CHROMIUM_PATH = process.env.WEFT_CHROMIUM ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM_PATH);

/** The project's standard flags: headless, no sandbox (root in CI), and no background traffic to Google. */
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  context: BrowserContext;
  /** A new tab whose console and errors go to `log`. */
  newPage(): Promise<Page>;
  /** `[console.<type>] text` and `[pageerror] message` lines from every page, in order. */
  log: string[];
  close(): Promise<void>;
}

export async function launchBrowser(options: { args?: string[] } = {}): Promise<TestBrowser> {
  if (!HAVE_CHROMIUM) throw new Error(`Chromium not found at ${CHROMIUM_PATH}: apt-get install chromium (or set WEFT_CHROMIUM)`);
  const userDataDir = await mkdtemp(join(tmpdir(), 'weft-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_FLAGS, ...(options.args ?? [])],
      timeout: 60_000,
    });
  } catch (e) {
    await rm(userDataDir, { recursive: true, force: true });
    throw e;
  }
  const log: string[] = [];
  const watch = (page: Page) => {
    page.on('console', (m) => log.push(`[console.${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => log.push(`[pageerror] ${e.message}`));
  };
  context.pages().forEach(watch);
  context.on('page', watch);
  let closed: Promise<void> | null = null;
  return {
    context,
    log,
    newPage: () => context.newPage(),
    close: () =>
      (closed ??= (async () => {
        // close() waits for the browser to exit; playwright kills it if it does not. Bound the wait regardless.
        await Promise.race([context.close().catch(() => undefined), new Promise((ok) => setTimeout(ok, 15_000))]);
        await rm(userDataDir, { recursive: true, force: true, maxRetries: 3 });
      })()),
  };
}

/** `describe` for tests needing Chromium: fails under CI when it is missing, skips with the reason elsewhere. */
export function describeBrowser(name: string, fn: () => void): void {
  if (HAVE_CHROMIUM) {
    describe(name, fn);
  } else if (process.env.CI) {
    describe(name, () => {
      throw new Error(`Chromium missing at ${CHROMIUM_PATH} (apt-get install chromium, as .ci/run does); CI requires it`);
    });
  } else {
    describe.skip(`${name} (skipped: Chromium not found at ${CHROMIUM_PATH})`, fn);
  }
}
