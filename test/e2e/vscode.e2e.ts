// End to end in a real VS Code: code-server with the packaged .vsix, driven through Chromium like a
// user would. Starts the kv FT configuration from the Run view, checks the two threads, steps, opens
// the logging-channel panel, triggers a failover and sees the roles swap, types into the guest
// console; screenshots of every step are kept under test-artifacts/e2e/.
//   npm run test:e2e
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { FrameLocator, Page } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CodeServer, ROOT, screenshot } from './codeServer';

const FT_KV = 'Lockstep: FT pair on the kv guest';
const UI_TIMEOUT = 60_000;

/** A stand-in telemetry collector (Application Insights' track endpoint): the reporter's send path, observed. */
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
  await page.keyboard.press('Escape');
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: UI_TIMEOUT });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ timeout: UI_TIMEOUT });
  await page.keyboard.press('Enter');
}

/**
 * Edits settings.json the way a user does: in VS Code's own editor, saved with Ctrl+S (VS Code does
 * not notice the file being written behind its back here).
 */
async function setUserSetting(page: Page, server: CodeServer, key: string, value: unknown): Promise<void> {
  await runCommand(page, 'Preferences: Open User Settings (JSON)');
  const editor = page.locator('.editor-instance .monaco-editor').first();
  await editor.waitFor({ timeout: UI_TIMEOUT });
  await editor.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(JSON.stringify({ ...server.settings(), [key]: value }, null, 2));
  await page.keyboard.press('Control+S');
  const saved = () => { try { return server.settings()[key] === value; } catch { return false; } };
  await waitFor(async () => saved(), `${key} to be saved`);
  await page.keyboard.press('Control+W');
}

/** A short recording of the kv pair (the repo's own CLI build), and a copy of it cut short. */
function recordLogs(workspace: string): void {
  const log = join(workspace, 'kv.ftlog');
  execFileSync(process.execPath, [join(ROOT, 'dist/cli.js'), 'ft', 'kv', '--record', log, '--duration', '1500'], { stdio: 'ignore' });
  const bytes = readFileSync(log);
  writeFileSync(join(workspace, 'damaged.ftlog'), bytes.subarray(0, bytes.length - 7));
}

/** Opens a workspace file by name with Quick Open, as a user would. */
async function quickOpen(page: Page, name: string): Promise<void> {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: UI_TIMEOUT });
  await input.fill(name);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor({ timeout: UI_TIMEOUT });
  await page.keyboard.press('Enter');
}

/** The text of the active editor's visible lines. */
async function editorText(page: Page): Promise<string> {
  return (await page.locator('.editor-instance .monaco-editor .view-lines').first().innerText().catch(() => '')).replace(/\u00a0/g, ' ');
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
      settings: { 'telemetry.telemetryLevel': 'off' },
      env: { LOCKSTEP_TELEMETRY_CONNECTION_STRING: `InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:${telemetry.port}/` },
    });
    vscode.prepare();
    recordLogs(vscode.workspace);
    await vscode.start();
    page = await vscode.open();
  });

  afterEach(async function () {
    if (this.currentTest?.state === 'failed' && page) await screenshot(page, 'failed').catch(() => undefined);
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

  it('runs on; a line typed into the guest console goes through the log and the guest answers', async () => {
    await page.locator('.debug-toolbar .codicon-debug-continue').click();
    await page.locator('.part.panel .tab', { hasText: 'Terminal' }).first().click().catch(() => undefined);
    const terminal = page.locator('.terminal-wrapper.active .xterm').first();
    await terminal.click();
    await page.keyboard.type('1 1 PUT a 1');
    await page.keyboard.press('Enter');
    await waitFor(async () => /1 1 OK/.test(await terminal.innerText().catch(() => '')), 'the kv guest to answer in the console');
    await screenshot(page, 'console');
    // The input and the released output are entries of the log, as the panel shows.
    const panelText = await panelFrame(page).locator('body').innerText();
    assert.match(panelText, /input serial 12 "1 1 PUT a 1\\n"/);
  });

  it('triggers a failover and shows the roles swapped', async () => {
    const before = await waitForThreads(page, (n) => n.some((x) => x.startsWith('primary (host-1')), 'the running pair');
    await runCommand(page, 'Lockstep: Trigger failover');
    const after = await waitForThreads(page, (n) => n.some((x) => /^primary \(host-2/.test(x)), 'host-2 to be the primary');
    assert.ok(!after.some((x) => /^primary \(host-1/.test(x)), JSON.stringify(after));
    await waitFor(async () => /failover|generation 2|host-2/i.test(await panelFrame(page).locator('body').innerText().catch(() => '')), 'the panel to show the failover');
    await screenshot(page, 'failover');
    assert.notDeepEqual(after, before);
  });

  it('sent no telemetry while VS Code telemetry was off, and sends once it is on', async () => {
    // The session start and the failover above happened with telemetry.telemetryLevel "off".
    assert.deepEqual(telemetry.requests.map((r) => r.slice(0, 300)), []);
    await setUserSetting(page, vscode, 'telemetry.telemetryLevel', 'all');
    // This time from the panel's own control: its message goes back to the session.
    await page.locator('.tab', { hasText: 'Lockstep: logging channel' }).first().click();
    await panelFrame(page).getByRole('button', { name: /Failover now/ }).click();
    await waitForThreads(page, (n) => n.some((x) => /^primary \(host-3/.test(x)), 'host-3 to be the primary');
    await waitFor(async () => telemetry.requests.some((r) => r.includes('lockstep.lockstep/failover')), 'the failover event at the collector');
    const sent = telemetry.requests.join('\n');
    assert.match(sent, /"generation":3/);
    assert.doesNotMatch(sent, /session\/start/, 'nothing from the time telemetry was off');
  });
  it('opens a log file from the workspace as highlighted read-only text, one line per entry', async () => {
    await page.keyboard.press('Shift+F5'); // the FT session is done with
    await waitFor(async () => (await threadNames(page)).length === 0, 'the FT session to end');
    await quickOpen(page, 'kv.ftlog');
    await waitFor(async () => /#2 @1421 output serial 9 "kv ready\\n"/.test(await editorText(page)), 'the log as text');
    const text = await editorText(page);
    assert.match(text, /\/\/ Lockstep log kv\.ftlog/);
    assert.match(text, /#1 @0 nondet rtc/);
    // Highlighted by the ftlog grammar: the instruction numbers get their own token colour.
    const instruction = page.locator('.view-lines span', { hasText: /^@1421$/ }).first();
    await instruction.waitFor({ timeout: UI_TIMEOUT });
    await waitFor(async () => (await page.locator('.codelens-decoration a', { hasText: 'Replay to here' }).count()) > 0, 'the Replay to here lenses');
    await screenshot(page, 'log-file');
  });

  it('"Replay to here" starts a replay stopped at that entry', async () => {
    await page.locator('.codelens-decoration a', { hasText: 'Replay to here (@1421)' }).first().click();
    // The machine's own count, in the Clock scope of the Variables view.
    const frame = page.locator('.debug-call-stack .monaco-list-row .stack-frame').first();
    await frame.waitFor({ timeout: UI_TIMEOUT });
    const variables = page.locator('.debug-variables');
    const scope = (name: string) => variables.locator('.monaco-list-row', { hasText: new RegExp(`^\\s*${name}\\s*$`) }).first();
    const toggle = async (name: string, expanded: boolean) => {
      const row = scope(name);
      if ((await row.isVisible()) && (await row.getAttribute('aria-expanded')) === String(!expanded)) await row.click();
    };
    await waitFor(async () => {
      await frame.click();
      await toggle('Registers', false); // out of the way: the list shows only what fits
      await toggle('Clock', true);
      return /instructions\s*[:=]?\s*1421\b/.test(await variables.innerText().catch(() => ''));
    }, 'the replay to stop at instruction 1421');
    assert.match(await variables.innerText(), /last stop\s*[:=]?\s*exact at 1421/);
    await screenshot(page, 'replayed-to-entry');
    await page.keyboard.press('Shift+F5');
  });

  it('a damaged log opens with the error at its byte offset, showing what could be read', async () => {
    await quickOpen(page, 'damaged.ftlog');
    await waitFor(async () => /ERROR at byte \d+: truncated frame; the 2 entries before it are shown/.test(await editorText(page)), 'the damage message');
    assert.match(await editorText(page), /#2 @1421 output serial 9/);
    await screenshot(page, 'damaged-log');
  });
});
