// End to end in a real VS Code: code-server with the packaged .vsix, driven through Chromium like a
// user would. Starts the kv FT configuration from the Run view, checks the two threads, steps (the top
// frame selected after every stop, no output released past it), checks the Disassembly view's lines at two
// stops, opens the logging-channel panel, types into the guest console, clicks a log entry in the panel and
// uses "Go to instruction…" to stop at exact counts, sets a data breakpoint on a kv table entry from the
// Debug Console (forwards and reverse), triggers failovers and sees the roles swap, kills
// the backup with "Inject fault…", opens log files, and records a new session's log with "Record log
// to file"; screenshots of every step are kept under test-artifacts/e2e/.
//   npm run test:e2e
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CodeServer, ROOT, screenshot } from './codeServer';
import { loadImage, Machine, Recorder } from '../../src/ft/machine';

/**
 * Where kv's "kv ready" output marker falls in a recording (guests/images/kv.elf): it moves when kv's boot path
 * changes.
 */
const KV_READY_AT = 2461;
const KV_READY_LINE = new RegExp(`#2 @${KV_READY_AT} output serial 9 "kv ready\\\\n"`);

const FT_KV = 'Lockstep: FT pair on the kv guest';
/** kv's first key goes to entries[0]: { u32 keylen, u32 vallen, char key[32], char value[1024] } (guests/kv/kv.c). */
const KV_VALUE_OFFSET = 40;
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

/**
 * Opens a quick input with `shortcut`, types `query` and picks the first row that shows `listed`. The
 * quick input is opened again until that row is there: the palette lists the commands known when it
 * opened (an extension's are known once the workbench has read its manifest), and Quick Open closes
 * when something else takes the focus (a webview, a terminal closing).
 */
async function pick(page: Page, shortcut: string, query: string, listed: string, missing: string): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: listed }).first();
  const deadline = Date.now() + UI_TIMEOUT;
  // The widget can close under the typing or before it is seen at all (a webview that loads, or an editor a debug
  // event opens, takes the focus): open it again, as a user would, until the deadline.
  for (;;) {
    await page.keyboard.press('Escape');
    await page.keyboard.press(shortcut);
    const shown = await input.waitFor({ timeout: 5000 }).then(() => true, () => false);
    const typed = shown && await input.fill(query, { timeout: 5000 }).then(() => true, () => false);
    if (typed && await row.waitFor({ timeout: 5000 }).then(() => true, () => false)) break;
    if (Date.now() > deadline) throw new Error(`${missing} (the quick input was ${shown ? 'shown' : 'never shown'} at the last try)`);
  }
  await page.keyboard.press('Enter');
}

/**
 * Where kv keeps the value of the first key it stores: found the way a user without symbols would, by
 * running the same image, storing `a` = `1` and searching memory for the entry (kv.elf is stripped).
 */
async function kvFirstValueAddress(): Promise<number> {
  const recorder = new Recorder(() => undefined);
  const machine = await Machine.create({ image: loadImage('kv'), epochLength: 10_000_000, nondet: recorder });
  try {
    let serial = '';
    machine.on({ output: (data) => { serial += Buffer.from(data).toString('latin1'); } });
    const runUntil = (text: string) => {
      while (!serial.includes(text)) {
        if (machine.isEnded || machine.instructions > 2_000_000_000) throw new Error(`kv never printed ${JSON.stringify(text)}: ${JSON.stringify(serial)}`);
        machine.runSlice();
      }
    };
    runUntil('kv ready');
    recorder.queue('serial', Buffer.from('1 1 PUT a 1\n'));
    runUntil('1 1 OK');
    const entry = Buffer.concat([Buffer.from([1, 0, 0, 0, 1, 0, 0, 0]), Buffer.from('a'), Buffer.alloc(31)]);
    const memory = Buffer.from(machine.memory.buffer, machine.memory.byteOffset, machine.memory.length);
    const found: number[] = [];
    for (let at = memory.indexOf(entry); at >= 0; at = memory.indexOf(entry, at + 1)) {
      if (memory[at + KV_VALUE_OFFSET] === 0x31) found.push(at);
    }
    assert.equal(found.length, 1, `one kv entry for a = 1 in memory, found at ${JSON.stringify(found)}`);
    return found[0] + KV_VALUE_OFFSET;
  } finally {
    machine.destroy();
  }
}

/**
 * Types an expression into a cleared Debug Console and returns its answer (the row after the echo): the
 * console's list is virtual, so rows are told apart by clearing it first, not by counting them.
 */
async function consoleEval(page: Page, expression: string): Promise<string> {
  await page.locator('.part.panel').getByRole('tab', { name: /^Debug Console/ }).first().click({ timeout: UI_TIMEOUT });
  const input = page.locator('.repl .repl-input-wrapper .monaco-editor').first();
  await input.waitFor({ timeout: UI_TIMEOUT });
  const rows = page.locator('.repl .monaco-list-row');
  await page.locator('.part.panel .codicon-debug-console-clear-all, .part.panel [aria-label^="Clear Console"]').first().click({ timeout: UI_TIMEOUT });
  await waitFor(async () => (await rows.count()) === 0, 'the Debug Console to be cleared');
  await input.click();
  await page.keyboard.insertText(expression);
  await page.keyboard.press('Enter');
  let answer = '';
  await waitFor(async () => {
    const texts = (await rows.allInnerTexts()).map((t) => t.trim());
    answer = texts[0] === expression ? texts[1] ?? '' : '';
    return answer !== '';
  }, `the console's answer to ${expression}`);
  return answer;
}

/** The Disassembly view's rows, address (lower case) to the row's text. */
async function disassemblyRows(page: Page): Promise<Map<string, string>> {
  const rows = await page.locator('.disassembly-view .monaco-list-row').allInnerTexts();
  const map = new Map<string, string>();
  for (const row of rows) {
    const line = row.replace(/\s+/g, ' ').trim();
    const address = /0x[0-9a-f]{8}/i.exec(line)?.[0].toLowerCase();
    if (address) map.set(address, line.toLowerCase());
  }
  return map;
}

/**
 * The top frame is selected with no click: the Variables view shows its scopes (VS Code fills the view
 * only for a selected frame; before frames had a source it stayed empty until the user clicked one).
 */
async function topFrameSelected(page: Page, what: string): Promise<void> {
  await waitFor(async () => /^\s*Registers\s*$/m.test(await page.locator('.debug-variables').innerText().catch(() => '')),
    `${what}: the top frame selected, its registers shown`);
}

/** Runs a command from the palette. */
function runCommand(page: Page, title: string): Promise<void> {
  return pick(page, 'F1', `>${title}`, title, `the command palette does not list "${title}"`);
}

/**
 * Edits settings.json the way a user does: in VS Code's own editor, saved with Ctrl+S (VS Code does
 * not notice the file being written behind its back here).
 */
async function setUserSetting(page: Page, server: CodeServer, key: string, value: unknown): Promise<void> {
  await runCommand(page, 'Preferences: Open User Settings (JSON)');
  // The active group's editor: a stop's code may be open in another group.
  const editor = page.locator('.editor-group-container.active .editor-instance .monaco-editor').first();
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
function quickOpen(page: Page, name: string): Promise<void> {
  return pick(page, 'Control+P', name, name, `Quick Open does not find ${name}`);
}

/** The text of the active editor's visible lines. */
async function editorText(page: Page): Promise<string> {
  // The active group's editor: a stop shows its code in an editor of its own beside the others.
  const lines = page.locator('.editor-group-container.active .editor-instance .monaco-editor .view-lines').first();
  return (await lines.innerText().catch(() => '')).replace(/\u00a0/g, ' ');
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

/** The host a thread is named after ("primary (host-3)" -> host-3), for a role. */
function hostOf(names: string[], role: 'primary' | 'backup'): string | undefined {
  return names.map((n) => new RegExp(`^${role} \\((host-\\d+)`).exec(n)?.[1]).find((h) => h !== undefined);
}

/** Waits for a quick pick or input box whose own text (title, prompt, items) matches. */
async function quickInput(page: Page, text: string | RegExp): Promise<Locator> {
  const widget = page.locator('.quick-input-widget', { hasText: text });
  await widget.waitFor({ timeout: UI_TIMEOUT });
  return widget;
}

/**
 * The log-entry row of the panel's "Log entries" grid (found by ARIA role and name, not by the
 * panel's styling) whose text matches. The grid is virtualised: only rows in view exist, so it stops
 * following new entries (the rows then hold still) and scrolls up until the row is in view.
 */
async function panelEntryRow(page: Page, text: RegExp): Promise<Locator> {
  const panel = panelFrame(page);
  const grid = panel.getByRole('grid', { name: 'Log entries' });
  await grid.waitFor({ timeout: UI_TIMEOUT });
  const follow = panel.getByRole('button', { name: 'Follow new entries' });
  if ((await follow.getAttribute('aria-pressed', { timeout: 5000 }).catch(() => null)) === 'true') await follow.click();
  const row = grid.getByRole('row').filter({ hasText: text }).first();
  const deadline = Date.now() + UI_TIMEOUT;
  while (!(await row.isVisible())) {
    if (Date.now() > deadline) throw new Error(`no row matching ${text} in the panel's log entries`);
    await grid.hover();
    await page.mouse.wheel(0, -150);
    await page.waitForTimeout(100);
  }
  return row;
}

/** The instruction count a log-entry row shows, in its "Instruction" column (by the grid's column headers). */
async function rowInstruction(row: Locator, grid: Locator): Promise<number> {
  const headers = await grid.getByRole('columnheader').allInnerTexts();
  const column = headers.findIndex((h) => /^\s*instruction\s*$/i.test(h));
  const text = column >= 0 ? await row.getByRole('gridcell').nth(column).innerText() : '';
  const digits = /^[\d,\s\u00a0]+$/.test(text.trim()) ? text : /instruction ([\d,]+)/.exec((await row.getAttribute('aria-label')) ?? '')?.[1] ?? '';
  const at = Number(digits.replace(/[^\d]/g, ''));
  assert.ok(digits.trim() !== '' && Number.isSafeInteger(at), `no instruction count in the row: ${JSON.stringify(text)}`);
  return at;
}

/** The Variables view's text with its Clock scope open (Registers folded out of the way: the list shows what fits). */
async function clockText(page: Page): Promise<string> {
  const variables = page.locator('.debug-variables');
  const scope = (name: string) => variables.locator('.monaco-list-row', { hasText: new RegExp(`^\\s*${name}\\s*$`) }).first();
  // VS Code redraws the view as a stop's scopes arrive: a row seen a moment ago may be gone (the
  // caller tries again).
  const toggle = async (name: string, expanded: boolean) => {
    const row = scope(name);
    if (!(await row.isVisible())) return;
    if ((await row.getAttribute('aria-expanded', { timeout: 1000 }).catch(() => null)) === String(!expanded)) await row.click({ timeout: 1000 }).catch(() => undefined);
  };
  await toggle('Registers', false);
  await toggle('Clock', true);
  return variables.innerText().catch(() => '');
}

const LAST_STOP = /last stop\s*[:=]?\s*(\w+) at ([\d,]+)/;

/**
 * Waits for the focused thread's Clock scope (Variables view) to show the machine at `instruction`,
 * stopped exactly there; returns the Variables view's text.
 */
async function waitForStopAt(page: Page, instruction: number): Promise<string> {
  await page.locator('.debug-call-stack .monaco-list-row .stack-frame').first().waitFor({ timeout: UI_TIMEOUT });
  // Counts are shown with grouped digits (1,234).
  const at = new RegExp(`instructions\\s*[:=]?\\s*${instruction.toLocaleString('en-US')}(?![\\d,])`);
  // The count and how the machine got there are read together: the view may be redrawn in between.
  let text = '';
  await topFrameSelected(page, `the stop at ${instruction}`);
  await waitFor(async () => {
    text = await clockText(page);
    return at.test(text) && LAST_STOP.test(text);
  }, `a stop at instruction ${instruction}`);
  const [, how, where] = LAST_STOP.exec(text)!;
  assert.deepEqual([how, Number(where.replace(/,/g, ''))], ['exact', instruction], text);
  return text;
}

/** Waits for a stop made by a data breakpoint (other than at `not`); returns its instruction count. */
async function stopAfterWatch(page: Page, not?: number): Promise<number> {
  let at = 0;
  await topFrameSelected(page, 'the data breakpoint\'s stop');
  await waitFor(async () => {
    const found = LAST_STOP.exec(await clockText(page));
    at = Number(found?.[2]?.replace(/,/g, '') ?? 0);
    return found?.[1] === 'watch' && at !== not;
  }, 'a stop at the data breakpoint');
  return at;
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

  it('stops on entry with the top frame selected (registers shown, its code in an editor) and steps one instruction', async () => {
    const eip = async () => {
      const row = page.locator('.monaco-list-row', { hasText: /eip\s*=\s*0x[0-9a-f]{8}/ }).first();
      return /eip\s*=\s*(0x[0-9a-f]{8})/.exec(await row.innerText().catch(() => ''))?.[1];
    };
    // kv's entry is a `cli` at 0x0010000c, then a `cld`: the frame is selected without a click.
    await waitFor(async () => (await eip()) === '0x0010000c', 'the stop on entry, its registers in the Variables view');
    await topFrameSelected(page, 'the stop on entry');
    await waitFor(async () => /0x0010000c\s+fa\s+cli/.test(await editorText(page)), 'the code at the entry in an editor');
    // No Hex Editor here: registers offer no memory view (VS Code would send the user to the marketplace).
    await page.locator('.debug-variables .monaco-list-row', { hasText: /eip\s*=/ }).first().hover();
    assert.equal(await page.locator('.debug-variables .codicon-debug-inspect-memory, .debug-variables [aria-label*="Binary Data"]').count(), 0);
    await screenshot(page, 'stopped-on-entry');
    await page.locator('.debug-toolbar .codicon-debug-step-over').click();
    await waitFor(async () => (await eip()) === '0x0010000d', 'one instruction later');
    await topFrameSelected(page, 'the step');
    // The step ran one instruction: kv's "kv ready" (instruction 2,461) is not in its console yet.
    await page.locator('.part.panel').getByRole('tab', { name: /^Terminal/ }).first().click({ timeout: 5000 }).catch(() => undefined);
    assert.doesNotMatch(await page.locator('.terminal-wrapper.active .xterm').first().innerText().catch(() => ''), /kv ready/);
    await screenshot(page, 'stepped');
  });

  it('the Disassembly view shows the entry\'s `cli` and the same lines above the current instruction at two stops', async () => {
    await runCommand(page, 'Open Disassembly View');
    let first = new Map<string, string>();
    await waitFor(async () => {
      first = await disassemblyRows(page);
      return /\bcld\b/.test(first.get('0x0010000d') ?? '') && /\bcli\b/.test(first.get('0x0010000c') ?? '');
    }, 'the entry\'s cli and the current cld in the Disassembly view');
    await screenshot(page, 'disassembly-at-1');
    await page.locator('.debug-toolbar .codicon-debug-step-back').click();
    let second = new Map<string, string>();
    await waitFor(async () => {
      second = await disassemblyRows(page);
      return /\bcli\b/.test(second.get('0x0010000c') ?? '') && (await page.locator('.debug-variables').innerText()).includes('0x0010000c');
    }, 'the step back to the entry, shown in the Disassembly view');
    await screenshot(page, 'disassembly-at-0');
    const above = [...first.keys()].filter((a) => a < '0x0010000c' && second.has(a));
    assert.ok(above.length >= 3, `rows above the entry at both stops: ${JSON.stringify(above)}`);
    for (const a of above) assert.equal(second.get(a), first.get(a), `the row at ${a} at both stops`);
    // Back to instruction 1 for the tests after this one, which start there.
    await page.locator('.debug-toolbar .codicon-debug-step-over').click();
    await waitFor(async () => (await page.locator('.debug-variables').innerText()).includes('0x0010000d'), 'instruction 1 again');
  });

  it('opens the logging-channel panel, which shows the log', async () => {
    await runCommand(page, 'Lockstep: Open logging channel');
    const panel = panelFrame(page);
    await panel.locator('body').waitFor({ timeout: UI_TIMEOUT });
    // The session so far reaches the panel: its hosts and their roles.
    await waitFor(async () => /primary/.test(await panel.locator('body').innerText().catch(() => '')), 'the panel to show the primary');
    // Stopped at instruction 1: nothing the guest does later is out (its first output is at 2,461).
    const outputs = panel.locator('.figure', { hasText: 'Outputs held / released' }).locator('dd');
    // (The live primary may have run its first slice, to 2,461, to step inside it: its output is held.)
    await waitFor(async () => /^\d+ \/ 0$/.test(await outputs.innerText().catch(() => '')), 'no output released at instruction 1');
    await screenshot(page, 'panel');
  });

  it('runs on; a line typed into the guest console goes through the log and the guest answers', async () => {
    await page.locator('.debug-toolbar .codicon-debug-continue').click();
    // The console's terminal is shown already when the session starts; if not, its tab shows it.
    await page.locator('.part.panel').getByRole('tab', { name: /^Terminal/ }).first().click({ timeout: 5000 }).catch(() => undefined);
    const terminal = page.locator('.terminal-wrapper.active .xterm').first();
    await terminal.click();
    await page.keyboard.type('1 1 PUT a 1');
    await page.keyboard.press('Enter');
    await waitFor(async () => /kv ready[\s\S]*1 1 OK/.test(await terminal.innerText().catch(() => '')), 'the kv guest to answer in the console');
    await screenshot(page, 'console');
    // The input and the released output are entries of the log, as the panel shows.
    const panelText = await panelFrame(page).locator('body').innerText();
    assert.match(panelText, /input serial 12 "1 1 PUT a 1\\n"/);
  });

  it('clicking a log entry in the panel stops the debugger at that entry\'s instruction', async () => {
    // The session is running; the entry is the console's input above, in the panel's grid.
    const grid = panelFrame(page).getByRole('grid', { name: 'Log entries' });
    const row = await panelEntryRow(page, /input serial 12 "1 1 PUT a 1/);
    const at = await rowInstruction(row, grid);
    await row.click();
    await waitForStopAt(page, at);
    await waitForThreads(page, (n) => n.length === 2, 'both threads after the stop');
    await screenshot(page, 'panel-entry-clicked');
  });

  it('"Go to instruction…" stops the primary at the count entered', async () => {
    // Where the guest answered the input: the output entry after it (forwards from the stop above).
    const grid = panelFrame(page).getByRole('grid', { name: 'Log entries' });
    const at = await rowInstruction(await panelEntryRow(page, /output serial 7 "1 1 OK/), grid);
    try {
      await runCommand(page, 'Lockstep: Go to instruction…');
      const box = await quickInput(page, 'Instruction count to stop at');
      await box.locator('input').fill(String(at));
      await page.keyboard.press('Enter');
      await waitForStopAt(page, at);
      // The Clock scope above is the top frame of the first thread: the primary's.
      assert.match((await threadNames(page))[0] ?? '', /^primary \(host-1/);
      await screenshot(page, 'went-to-instruction');
    } finally {
      // Running on, for the failovers (whatever happened above: a failure here is reported, not this).
      await page.keyboard.press('Escape');
      await page.locator('.debug-toolbar .codicon-debug-continue').click({ timeout: UI_TIMEOUT }).catch(() => undefined);
      await page.locator('.debug-toolbar .codicon-debug-pause').waitFor({ timeout: UI_TIMEOUT }).catch(() => undefined);
    }
  });

  it('a data breakpoint on a kv table entry stops forwards at the write, and reverse continue at the one before', async () => {
    const value = await kvFirstValueAddress();
    const at = `0x${value.toString(16).padStart(8, '0')}`;
    await page.locator('.debug-toolbar .codicon-debug-pause').click({ timeout: UI_TIMEOUT });
    await page.locator('.debug-toolbar .codicon-debug-continue').waitFor({ timeout: UI_TIMEOUT });
    try {
      assert.equal(await consoleEval(page, `byte [${at}]`), '0x31 (49)', 'the value of a, as the console test stored it');
      assert.match(await consoleEval(page, `watch byte [${at}]`), new RegExp(`watching 1 byte at ${at}`));
      await page.locator('.debug-toolbar .codicon-debug-continue').click();
      await page.locator('.part.panel').getByRole('tab', { name: /^Terminal/ }).first().click({ timeout: 5000 }).catch(() => undefined);
      const terminal = page.locator('.terminal-wrapper.active .xterm').first();
      await terminal.click();
      await page.keyboard.type('2 2 PUT a 2');
      await page.keyboard.press('Enter');
      // Forwards: the stop right after the write; kv has not answered yet (its reply comes after the store).
      const written = await stopAfterWatch(page);
      assert.doesNotMatch(await terminal.innerText().catch(() => ''), /2 2 OK/);
      assert.equal(await consoleEval(page, `byte [${at}]`), '0x32 (50)');
      await screenshot(page, 'data-breakpoint-forward');
      await consoleEval(page, `.goto ${written - 1}`);
      assert.equal(await consoleEval(page, `byte [${at}]`), '0x31 (49)', 'one instruction before the stop, the old value');
      // Backwards: the write before, the console test's PUT (0 -> '1').
      await page.locator('.debug-toolbar .codicon-debug-reverse-continue').click();
      const previous = await stopAfterWatch(page, written);
      assert.ok(previous < written, `the previous write at ${previous}, before ${written}`);
      assert.equal(await consoleEval(page, `byte [${at}]`), '0x31 (49)');
      await consoleEval(page, `.goto ${previous - 1}`);
      assert.equal(await consoleEval(page, `byte [${at}]`), '0x00 (0)', 'before kv stored a, nothing');
      await screenshot(page, 'data-breakpoint-reverse');
      assert.equal(await consoleEval(page, '.unwatch'), '1 data breakpoint dropped');
      await page.locator('.debug-toolbar .codicon-debug-continue').click();
      await page.locator('.debug-toolbar .codicon-debug-pause').waitFor({ timeout: UI_TIMEOUT });
      await page.locator('.part.panel').getByRole('tab', { name: /^Terminal/ }).first().click({ timeout: 5000 }).catch(() => undefined);
      await waitFor(async () => /2 2 OK/.test(await terminal.innerText().catch(() => '')), 'kv to answer once running on');
    } finally {
      // Running on, for the failovers (whatever happened above: a failure here is reported, not this).
      await consoleEval(page, '.unwatch').catch(() => undefined);
      await page.locator('.debug-toolbar .codicon-debug-continue').click({ timeout: 5000 }).catch(() => undefined);
    }
  });

  it('triggers a failover and shows the roles swapped', async () => {
    const before = await waitForThreads(page, (n) => n.some((x) => x.startsWith('primary (host-1')), 'the running pair');
    // While the roles change and a new backup is cloned, the panel is sampled: a backup is never shown
    // at 0 instructions with the whole count as its lag.
    await page.locator('.tab', { hasText: 'Lockstep: logging channel' }).first().click();
    const panel = panelFrame(page);
    // The panel's webview takes the focus once it shows: let it, before the command palette is opened.
    await panel.getByRole('list', { name: 'Hosts' }).waitFor({ timeout: UI_TIMEOUT });
    const samples: { backup: string; lag: string; primary: number }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        // One read of one rendering: the host list and the lag figure as they were drawn together.
        // (No functions declared inside: the test's compiler would name them with a helper the page lacks.)
        const sample = await panel.locator('body').evaluate((body) => ({
          backup: body.querySelector('li.role-backup .host-instr')?.textContent ?? '',
          primary: body.querySelector('li.role-primary .host-instr')?.textContent ?? '',
          lag: Array.from(body.querySelectorAll('.figure')).find((f) => f.querySelector('.figure-label')?.textContent === 'Lag')?.querySelector('.figure-value')?.textContent ?? '',
        }), undefined, { timeout: 1000 }).catch(() => undefined);
        if (sample) samples.push({ ...sample, primary: Number(sample.primary.replace(/[^\d]/g, '')) });
        await page.waitForTimeout(200);
      }
    })();
    await runCommand(page, 'Lockstep: Trigger failover');
    const after = await waitForThreads(page, (n) => n.some((x) => /^primary \(host-2/.test(x)) && !!hostOf(n, 'backup'), 'host-2 to be the primary, with a new backup');
    await waitFor(async () => /^[\d,]+$/.test(await panel.locator('li.role-backup .host-instr').first().innerText().catch(() => '')), 'the new backup to count instructions');
    sampling = false;
    await sampler;
    assert.ok(samples.some((x) => x.primary > 0 && x.backup !== ''), `the panel was read while it changed: ${JSON.stringify(samples.slice(0, 5))}`);
    for (const { backup, lag, primary } of samples) {
      assert.notEqual(backup.trim(), '0', `a backup shown at 0: ${JSON.stringify(samples)}`);
      const lagCount = Number(lag.replace(/[^\d]/g, ''));
      assert.ok(!/instr/.test(lag) || primary < 1_000_000 || lagCount < primary / 2, `a lag of ${lag} with the primary at ${primary}`);
    }
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

  it('"Inject fault…" kills the backup: the primary runs on alone and a new backup is cloned', async () => {
    const before = await waitForThreads(page, (n) => !!hostOf(n, 'primary') && !!hostOf(n, 'backup'), 'a primary and a backup');
    const [primary, backup] = [hostOf(before, 'primary')!, hostOf(before, 'backup')!];
    await runCommand(page, 'Lockstep: Inject fault…');
    await (await quickInput(page, 'Kill the backup')).locator('.quick-input-list .monaco-list-row', { hasText: 'Kill the backup' }).first().click();
    const after = await waitForThreads(page, (n) => !n.some((x) => x.includes(`(${backup}`)) && !!hostOf(n, 'backup'), `${backup} to be gone and a new backup to be cloned`);
    assert.equal(hostOf(after, 'primary'), primary, JSON.stringify(after));
    assert.notEqual(hostOf(after, 'backup'), backup);
    // The panel shows the killed host as dead.
    const hosts = panelFrame(page).getByRole('list', { name: 'Hosts' });
    await waitFor(async () => new RegExp(`${backup}\\s*dead`).test(await hosts.getByRole('listitem').filter({ hasText: backup }).first().innerText().catch(() => '')), `the panel to show ${backup} dead`);
    await screenshot(page, 'backup-killed');
  });

  it('opens a log file from the workspace as highlighted read-only text, one line per entry', async () => {
    await page.keyboard.press('Shift+F5'); // the FT session is done with
    await waitFor(async () => (await threadNames(page)).length === 0, 'the FT session to end');
    await quickOpen(page, 'kv.ftlog');
    await waitFor(async () => KV_READY_LINE.test(await editorText(page)), 'the log as text');
    const text = await editorText(page);
    assert.match(text, /\/\/ Lockstep log kv\.ftlog/);
    assert.match(text, /#1 @0 nondet rtc/);
    // Highlighted by the ftlog grammar: the instruction numbers get their own token colour.
    const instruction = page.locator('.view-lines span', { hasText: new RegExp(`^@${KV_READY_AT}$`) }).first();
    await instruction.waitFor({ timeout: UI_TIMEOUT });
    await waitFor(async () => (await page.locator('.codelens-decoration a', { hasText: 'Replay to here' }).count()) > 0, 'the Replay to here lenses');
    await screenshot(page, 'log-file');
  });

  it('"Replay to here" starts a replay stopped at that entry, marks its line, and fills the panel from the file', async () => {
    const line = (await editorText(page)).split('\n').findIndex((l) => KV_READY_LINE.test(l));
    await page.locator('.codelens-decoration a', { hasText: `Replay to here (@${KV_READY_AT})` }).first().click();
    // The machine's own count, in the Clock scope of the Variables view.
    await waitForStopAt(page, KV_READY_AT);
    await screenshot(page, 'replayed-to-entry');
    // The log's editor has the entry's line selected (the cursor on it) and highlighted.
    await page.locator('.tab', { hasText: 'kv.ftlog' }).first().click();
    const cursor = page.locator('.statusbar-item', { hasText: /^\s*Ln \d+, Col \d+/ }).first();
    await waitFor(async () => (await cursor.innerText().catch(() => '')).includes(`Ln ${line + 1},`), `the cursor on line ${line + 1}`);
    await screenshot(page, 'replay-line-marked');
    // The panel of the replay: the file's entries, not "No log entries yet".
    await runCommand(page, 'Lockstep: Open logging channel');
    await panelEntryRow(page, /output serial 9 "kv ready/);
    const panelText = await panelFrame(page).locator('body').innerText();
    assert.match(panelText, /replay to @2461/);
    assert.doesNotMatch(panelText, /No log entries yet/);
    await screenshot(page, 'replay-panel');
    await page.keyboard.press('Shift+F5');
  });

  it('a damaged log opens with the error at its byte offset, showing what could be read', async () => {
    await quickOpen(page, 'damaged.ftlog');
    // How many entries come before the cut depends on how far the 1.5 s recording got: the text says, and shows them.
    const damage = /ERROR at byte \d+: truncated frame; the (\d+) entries before it are shown/;
    await waitFor(async () => damage.test(await editorText(page)), 'the damage message');
    const text = await editorText(page);
    assert.equal(text.split('\n').filter((l) => /^#\d+ @\d+ /.test(l.trim())).length, Number(damage.exec(text)![1]), text);
    assert.match(text, KV_READY_LINE);
    await screenshot(page, 'damaged-log');
  });

  it('"Record log to file" runs a new FT pair recording to the chosen file, which opens as a log', async () => {
    await waitFor(async () => (await threadNames(page)).length === 0, 'the replay to end');
    const file = join(vscode.workspace, 'recorded.ftlog');
    await runCommand(page, 'Lockstep: Record log to file');
    // VS Code's own save dialog (a quick input on the web): the path, then Enter.
    // It fills in the folder it starts from (listing it) after it opens: typing waits for that.
    const dialog = await quickInput(page, 'Lockstep: record the log to');
    const path = dialog.locator('input');
    await dialog.locator('.quick-input-list .monaco-list-row', { hasText: 'kv.ftlog' }).first().waitFor({ timeout: UI_TIMEOUT });
    await waitFor(async () => (await path.inputValue()).startsWith('/'), 'the save dialog to show its folder');
    await path.fill(file);
    await waitFor(async () => (await path.inputValue()) === file, 'the path to be typed');
    await page.keyboard.press('Enter');
    await waitForThreads(page, (n) => !!hostOf(n, 'primary') && !!hostOf(n, 'backup'), 'the recording pair');
    // Stopped on entry: the debug toolbar offers Continue (the thread's own label hides under the mouse).
    await page.locator('.debug-toolbar .codicon-debug-continue').click({ timeout: UI_TIMEOUT });
    await page.locator('.debug-toolbar .codicon-debug-pause').waitFor({ timeout: UI_TIMEOUT });
    // The guest's first output is logged before the session is stopped.
    await runCommand(page, 'Lockstep: Open logging channel');
    const panel = panelFrame(page);
    await waitFor(async () => /\(recording\)/.test(await panel.locator('body').innerText().catch(() => '')), 'the panel to show the recording session');
    await panelEntryRow(page, /output serial 9 "kv ready/);
    await screenshot(page, 'recording');
    await page.locator('.debug-toolbar .codicon-debug-stop').click();
    await waitFor(async () => (await threadNames(page)).length === 0, 'the recording session to end');
    await waitFor(async () => existsSync(file) && statSync(file).size > 0, `${file} to be written`);
    assert.ok(!existsSync(`${file}.backup`), 'the backup\'s copy is settled');
    await quickOpen(page, 'recorded.ftlog');
    await waitFor(async () => KV_READY_LINE.test(await editorText(page)), 'the recorded log as text');
    const text = await editorText(page);
    assert.match(text, /\/\/ Lockstep log recorded\.ftlog/);
    assert.match(text, /#1 @0 nondet rtc/);
    // An ftlog document: its language in the status bar, and the log's lenses.
    await page.locator('.statusbar-item', { hasText: /^\s*Lockstep log\s*$/ }).first().waitFor({ timeout: UI_TIMEOUT });
    await waitFor(async () => (await page.locator('.codelens-decoration a', { hasText: `Replay to here (@${KV_READY_AT})` }).count()) > 0, 'the Replay to here lenses');
    await screenshot(page, 'recorded-log');
  });
});
