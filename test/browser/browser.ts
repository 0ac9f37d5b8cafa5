// Debian's chromium driven by puppeteer-core: the browser the set-up installs with apt (never a downloaded one).
// Where it is missing the browser tests skip and say why. Screenshots go to a git-ignored folder under the
// state directory, kept after the run for a person to look at.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { stateDir } from '../../infra/paths.ts';

export const CHROMIUM = process.env.AGENTRL_CHROMIUM ?? '/usr/bin/chromium';

/** The skip reason when no chromium is installed, else false. */
export const noChromium: string | false = existsSync(CHROMIUM)
  ? false
  : `chromium not found at ${CHROMIUM}: infra/setup.sh installs Debian's chromium with apt (set AGENTRL_CHROMIUM to use another)`;

export function artifactsDir(): string {
  const dir = join(stateDir(), 'test-artifacts', 'browser');
  mkdirSync(dir, { recursive: true });
  return dir;
}

export async function launch(): Promise<Browser> {
  process.env.PUPPETEER_SKIP_DOWNLOAD = '1';
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
}

export interface PageProblems {
  /** console.error messages and uncaught exceptions. */
  errors: string[];
  /** Requests that failed (a self-contained page makes none that can fail). */
  failedRequests: string[];
}

/** A page that records its console errors, page errors and failed requests from the start. */
export async function watchedPage(browser: Browser): Promise<{ page: Page; problems: PageProblems }> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1300, height: 1000 });
  const problems: PageProblems = { errors: [], failedRequests: [] };
  page.on('console', (m) => m.type() === 'error' && problems.errors.push(m.text()));
  page.on('pageerror', (e) => problems.errors.push(String(e)));
  page.on('requestfailed', (r) => problems.failedRequests.push(`${r.url()} (${r.failure()?.errorText ?? 'failed'})`));
  return { page, problems };
}
