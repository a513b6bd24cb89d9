// End to end in a real VS Code: code-server with the packaged .vsix, driven through Chromium like a
// user would. Starts the kv FT configuration from the Run view, checks the two threads, steps, opens
// the logging-channel panel, triggers a failover and sees the roles swap, types into the guest
// console; screenshots of every step are kept under test-artifacts/e2e/.
//   npm run test:e2e
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { FrameLocator, Page } from 'playwright-core';
import { CodeServer, screenshot } from './codeServer';

const FT_KV = 'Lockstep: FT pair on the kv guest';
const UI_TIMEOUT = 60_000;

/** A stand-in telemetry collector: with VS Code's telemetry off, it must receive nothing. */
async function collector(): Promise<{ server: Server; port: number; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => { body += c.toString(); });
    req.on('end', () => { requests.push(`${req.method} ${req.url} ${body}`); res.end('{}'); });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, port: (server.address() as { port: number }).port, requests };
}

async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs = UI_TIMEOUT): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((ok) => setTimeout(ok, 250));
  }
}

async function runCommand(page: Page, title: string): Promise<void> {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: UI_TIMEOUT });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ timeout: UI_TIMEOUT });
  await page.keyboard.press('Enter');
}

/** The thread rows of the Call Stack view. */
async function threadNames(page: Page): Promise<string[]> {
  return page.locator('.debug-call-stack .monaco-list-row .thread .name').allInnerTexts();
}

async function waitForThreads(page: Page, test: (names: string[]) => boolean, what: string): Promise<string[]> {
  const deadline = Date.now() + UI_TIMEOUT;
  for (;;) {
    const names = await threadNames(page);
    if (test(names)) return names;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; threads: ${JSON.stringify(names)}`);
    await page.waitForTimeout(250);
  }
}

/** The panel's document: the webview's outer iframe, then its active frame. */
function panelFrame(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready').frameLocator('iframe#active-frame');
}

describe('Lockstep in a real VS Code (code-server)', function () {
  this.timeout(600_000);
  let vscode: CodeServer;
  let page: Page;
  let telemetry: Awaited<ReturnType<typeof collector>>;

  before(async () => {
    telemetry = await collector();
    vscode = new CodeServer({
      launch: { version: '0.2.0', configurations: [{ type: 'lockstep', request: 'launch', name: FT_KV, guest: 'kv', stopOnEntry: true }] },
      env: { LOCKSTEP_TELEMETRY_CONNECTION_STRING: `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:${telemetry.port}/` },
    });
    vscode.prepare();
    await vscode.start();
    page = await vscode.open();
  });

  after(async () => {
    if (page) await screenshot(page, 'last').catch(() => undefined);
    await vscode?.stop();
    telemetry?.server.close();
  });

  it('starts the kv FT configuration from the Run view and shows the primary and backup threads', async () => {
    await page.keyboard.press('Control+Shift+D');
    const start = page.locator('.debug-view-content .start-debug-action-item, .part.sidebar .start-debug-action-item').first();
    await start.waitFor({ timeout: UI_TIMEOUT });
    // The launch configuration list fills in once the workspace's launch.json is read.
    await waitFor(async () => (await start.locator('select').inputValue().catch(() => '')).includes(FT_KV), 'the kv configuration in the Run view');
    await screenshot(page, 'run-view');
    await start.locator('.codicon-debug-start').click();
    const names = await waitForThreads(page, (n) => n.some((x) => x.startsWith('primary')) && n.some((x) => x.startsWith('backup')), 'the primary and backup threads');
    assert.equal(names.length, 2, JSON.stringify(names));
    await screenshot(page, 'threads');
  });

  it('stops on entry and steps one instruction', async () => {
    await waitFor(async () => /instruction 0|paused|entry/i.test(await page.locator('.debug-call-stack .monaco-list-row', { hasText: 'primary' }).first().innerText()), 'the stop on entry');
    const frame = page.locator('.debug-call-stack .monaco-list-row .stack-frame').first();
    // Expand the primary thread if VS Code did not.
    if (!(await frame.isVisible())) await page.locator('.debug-call-stack .monaco-list-row', { hasText: 'primary' }).first().locator('.monaco-tl-twistie').click();
    await frame.waitFor({ timeout: UI_TIMEOUT });
    const before = await frame.innerText();
    await screenshot(page, 'stopped-on-entry');
    await page.locator('.debug-toolbar .codicon-debug-step-over').click();
    await waitFor(async () => (await frame.innerText().catch(() => before)) !== before, 'the stack frame to move');
    const after = await frame.innerText();
    await screenshot(page, 'stepped');
    assert.notEqual(after, before);
  });

  it('opens the logging-channel panel, which shows the log', async () => {
    await runCommand(page, 'Lockstep: Open logging channel');
    const panel = panelFrame(page);
    await panel.locator('body').waitFor({ timeout: UI_TIMEOUT });
    // The session so far reaches the panel: its hosts and their roles.
    await waitFor(async () => /primary/.test(await panel.locator('body').innerText().catch(() => '')), 'the panel to show the primary');
    await screenshot(page, 'panel');
  });

  it('runs on, triggers a failover and shows the roles swapped', async () => {
    await page.locator('.debug-toolbar .codicon-debug-continue').click();
    const before = await waitForThreads(page, (n) => n.some((x) => x.startsWith('primary (host-1')), 'the running pair');
    await runCommand(page, 'Lockstep: Trigger failover');
    const after = await waitForThreads(page, (n) => n.some((x) => /^primary \(host-2/.test(x)), 'host-2 to be the primary');
    assert.ok(!after.some((x) => /^primary \(host-1/.test(x)), JSON.stringify(after));
    await waitFor(async () => /failover|generation 2|host-2/i.test(await panelFrame(page).locator('body').innerText().catch(() => '')), 'the panel to show the failover');
    await screenshot(page, 'failover');
    assert.notDeepEqual(after, before);
  });

  it('types into the guest console: the line goes through the log and the guest answers', async () => {
    await page.locator('.part.panel .tab', { hasText: 'Terminal' }).first().click().catch(() => undefined);
    const terminal = page.locator('.terminal-wrapper.active .xterm').first();
    await terminal.click();
    await page.keyboard.type('1 1 PUT a 1');
    await page.keyboard.press('Enter');
    await waitFor(async () => /1 1 OK/.test(await terminal.innerText().catch(() => '')), 'the kv guest to answer in the console');
    await screenshot(page, 'console');
  });

  it('sends no telemetry while VS Code telemetry is off', () => {
    assert.deepEqual(telemetry.requests, []);
  });
});
