// What a user does and reads in the dev server's Web UI, as page steps for the browser tests. The UI keeps polling
// and never reaches network idle, so every step waits on elements or text.
import type { Page } from 'puppeteer-core';

export interface StartForm {
  workflowId: string;
  taskQueue: string;
  workflowType: string;
  /** The input exactly as a user pastes it. */
  json: string;
}

/** Fills the Start Workflow form and presses Start Workflow. */
export async function startFromForm(page: Page, uiUrl: string, namespace: string, form: StartForm): Promise<void> {
  await page.goto(`${uiUrl}/namespaces/${namespace}/workflows/start-workflow`, { waitUntil: 'domcontentloaded' });
  await page.waitForSelector('#workflowId', { timeout: 60_000 });
  await page.type('#workflowId', form.workflowId);
  await page.type('#taskQueue', form.taskQueue);
  await page.type('#workflowType', form.workflowType);
  await page.waitForSelector('.cm-content');
  await page.focus('.cm-content');
  // A paste, as one edit (typing key by key would let the editor auto-close brackets). Expressions go as strings:
  // they run in the page, and this project type-checks without the DOM library.
  await page.evaluate(`document.execCommand('insertText', false, ${JSON.stringify(form.json)})`);
}

export function workflowUrl(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl}/namespaces/${namespace}/workflows/${encodeURIComponent(workflowId)}`;
}

export async function pageText(page: Page): Promise<string> {
  return (await page.evaluate('document.body.innerText')) as string;
}

/**
 * Waits until the page's text matches, reloading it every `reloadMs` in case the UI stopped refreshing; `stop`
 * ends the wait early with its error (e.g. the run failed, so the text will never come).
 */
export async function waitForText(page: Page, pattern: RegExp, opts: { timeoutMs: number; reloadMs?: number; stop?: () => Error | undefined }): Promise<string> {
  const deadline = Date.now() + opts.timeoutMs;
  let reloaded = Date.now();
  for (;;) {
    const text = await pageText(page).catch(() => '');
    if (pattern.test(text)) return text;
    const stopped = opts.stop?.();
    if (stopped) throw stopped;
    if (Date.now() > deadline) throw new Error(`the page never showed ${pattern} within ${opts.timeoutMs / 1000}s; it shows:\n${text.slice(0, 2000)}`);
    if (opts.reloadMs && Date.now() - reloaded > opts.reloadMs) {
      await page.reload({ waitUntil: 'domcontentloaded' });
      reloaded = Date.now();
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * The texts the workflow page's "User Metadata" tab shows (summary, details, current details), once every one of
 * `wanted` is shown. The UI renders each text in its own iframe, and the frames fill in one by one, so the text is
 * read frame by frame until all that is wanted is there (a check on the first frame alone raced the others).
 * With `reloadMs`, the page is reloaded that often, for text that changes while the workflow runs.
 */
export async function userMetadata(page: Page, wanted: string | RegExp | (string | RegExp)[], timeoutMs = 60_000, reloadMs?: number): Promise<string[]> {
  const openTab = async () => (await page.waitForSelector('::-p-text(User Metadata)', { timeout: 60_000 }))!.click();
  await openTab();
  const needles = Array.isArray(wanted) ? wanted : [wanted];
  const deadline = Date.now() + timeoutMs;
  let reloaded = Date.now();
  for (;;) {
    if (reloadMs && Date.now() - reloaded > reloadMs) {
      await page.reload({ waitUntil: 'domcontentloaded' });
      await openTab();
      reloaded = Date.now();
    }
    const shown: string[] = [];
    for (const frame of page.frames()) {
      if (frame === page.mainFrame()) continue;
      const text = (await frame.evaluate('document.body ? document.body.innerText : ""').catch(() => '')) as string;
      if (text.trim()) shown.push(text);
    }
    if (needles.every((n) => shown.some((t) => (typeof n === 'string' ? t.includes(n) : n.test(t))))) return shown;
    if (Date.now() > deadline) throw new Error(`User Metadata never showed ${needles.map(String).join(' and ')}; it shows: ${JSON.stringify(shown)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
