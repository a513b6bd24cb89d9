// The logging-channel panel's webview bundle in a real, headless Chromium (Debian's, driven by
// playwright-core): served with the HTML and CSP the extension gives it, a stand-in for VS Code's
// acquireVsCodeApi that records what the panel posts, VS Code's theme variables applied the way VS
// Code applies them, and the event stream recorded from a real FT pair (fixtures/panel-events.json,
// made by fixtures/panel-events.generate.ts). Screenshots land in test-artifacts/.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ENTRY_KINDS, type EntryView, type HostView, type PanelInboundMessage, type ViewRecord, type ViewsEventBody } from '../../src/adapter/protocol';
import { describeCauses } from '../../src/adapter/viewHistory';
import { isPanelMessage, panelCsp, panelHtml } from '../../src/extension/panel/html';
import { MAX_ENTRIES, PanelModel } from '../../src/extension/panel/model';
import * as fmt from '../../src/extension/panel/format';
import { ARTIFACTS, FIXTURES, THEMES, panelPages, themeVariables } from './panelPage';

const recording = JSON.parse(readFileSync(join(FIXTURES, 'panel-events.json'), 'utf8')) as { messages: PanelInboundMessage[] };
const messages = recording.messages;
/** A debugger gone back in time, then a failover and a clone (fixtures/panel-rewound.json says how). */
const rewound = (JSON.parse(readFileSync(join(FIXTURES, 'panel-rewound.json'), 'utf8')) as typeof recording).messages;
/** The same recording in checkpoint mode (fixtures/panel-checkpoint-events.json). */
const checkpointed = (JSON.parse(readFileSync(join(FIXTURES, 'panel-checkpoint-events.json'), 'utf8')) as typeof recording).messages;
/** Three hosts under the view service: views 1 → 2 → 3, a failover, a spare made backup (panel-views-events.json). */
const viewed = (JSON.parse(readFileSync(join(FIXTURES, 'panel-views-events.json'), 'utf8')) as typeof recording).messages;
const viewEvents = (list: PanelInboundMessage[]): ViewsEventBody[] =>
  list.flatMap((m) => (m.type === 'event' && m.event === 'lockstep/views' ? [m.body] : []));
/** What the view table should show after `list`: each view as its latest event has it, by number. */
const latestViews = (list: PanelInboundMessage[]): ViewRecord[] =>
  [...new Map(viewEvents(list).map((e) => [e.view.number, e.view])).values()].sort((a, b) => a.number - b.number);
const recordedEntries: EntryView[] = messages.flatMap((m) => (m.type === 'event' && m.event === 'lockstep/entries' ? m.body.entries : []));

describe('logging-channel panel: model and host side', () => {
  const entry = (seq: number, acked = false): EntryView => ({ seq, at: seq * 1000, kind: 'input', size: 40, acked, text: `#${seq} @${seq * 1000} input` });
  const host = (id: string, role: HostView['role'], generation: number, instructions: number): HostView => ({ id, role, generation, instructions });
  const channel = (time: number, ackedSeq: number, bytesSent: number, hosts: HostView[]): PanelInboundMessage => ({
    type: 'event', event: 'lockstep/channel',
    body: {
      time, hosts, lag: 0, entriesLogged: 0, entriesAcked: ackedSeq, ackedSeq, bytesSent,
      outputsHeld: 0, outputsReleased: 0,
    },
  });

  it('acks entries cumulatively, and after a failover keeps what the new primary had and marks the rest lost', () => {
    const model = new PanelModel();
    model.apply({ type: 'session', state: 'started', name: 'test' });
    model.apply({ type: 'event', event: 'lockstep/entries', body: { entries: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => entry(n)) } });
    model.apply(channel(1000, 6, 1000, [host('host-1', 'primary', 1, 5000), host('host-2', 'backup', 1, 4000)]));
    model.apply({ type: 'event', event: 'lockstep/output', body: { seq: 5, at: 5000, text: 'a', state: 'held', time: 900 } });
    model.apply({ type: 'event', event: 'lockstep/output', body: { seq: 5, at: 5000, text: '', state: 'released', time: 1000 } });
    model.apply({ type: 'event', event: 'lockstep/output', body: { seq: 9, at: 9000, text: 'b', state: 'held', time: 1000 } });
    assert.deepEqual(model.entries.map((e) => e.state), [...Array(6).fill('acked'), ...Array(4).fill('pending')]);
    model.apply({ type: 'event', event: 'lockstep/failover', body: { generation: 2, newPrimary: 'host-2', reason: 'test', time: 1500, lastSeq: 8 } });
    assert.deepEqual(model.entries.map((e) => e.state), [...Array(8).fill('acked'), 'lost', 'lost']);
    assert.deepEqual(model.outputs.map((o) => [o.seq, o.state, o.heldMs]), [[5, 'released', 100], [9, 'dropped', undefined]]);
    // The new primary logs #9 and #10 again (other entries under the same seqs).
    model.apply({ type: 'event', event: 'lockstep/entries', body: { entries: [9, 10, 11].map((n) => entry(n)) } });
    model.apply(channel(1500, 10, 1500, [host('host-1', 'dead', 1, 5000), host('host-2', 'primary', 2, 9000), host('host-3', 'backup', 2, 8000)]));
    assert.deepEqual(model.entries.slice(8).map((e) => `${e.seq}:${e.generation}:${e.state}`), ['9:1:lost', '10:1:lost', '9:2:acked', '10:2:acked', '11:2:pending']);
    assert.deepEqual(model.timeline.map((t) => t.kind), ['session', 'failover', 'died', 'attached']);
    // Bandwidth: 500 bytes in 500 ms; a counter that went down (a new channel) counts from zero.
    model.apply(channel(2000, 10, 200, [host('host-2', 'primary', 2, 9500)]));
    assert.deepEqual(model.series.bandwidth, [null, 1000, 400]);
    assert.deepEqual(model.series.backup, [4000, 8000, null]);
  });

  it('keeps the rows of the kinds shown as entries arrive and the oldest are let go of', function () {
    this.timeout(60_000); // over a million entries
    const model = new PanelModel();
    model.apply({ type: 'session', state: 'started', name: 'test' });
    model.showKind('nondet', false);
    const kinds = ['input', 'nondet', 'epoch'] as const;
    const batch = 100_000;
    for (let from = 1; model.droppedEntries === 0; from += batch) {
      const entries = Array.from({ length: batch }, (_, i) => ({ ...entry(from + i), kind: kinds[(from + i) % 3] }));
      model.apply({ type: 'event', event: 'lockstep/entries', body: { entries } });
    }
    assert.ok(model.entries.length < MAX_ENTRIES);
    const shown = model.entries.flatMap((e, i) => (e.kind === 'nondet' ? [] : [i]));
    assert.equal(model.rowCount, shown.length);
    shown.forEach((index, row) => {
      if (model.entryAt(row) !== index || model.rowOf(index) !== row) assert.fail(`row ${row}: entry ${model.entryAt(row)}, expected ${index}`);
    });
    // A hidden entry's place is that of the next one shown.
    const hidden = model.entries.findIndex((e) => e.kind === 'nondet');
    assert.equal(model.rowOf(hidden), shown.indexOf(hidden + 1));
    model.showKind('nondet', true);
    assert.equal(model.rowCount, model.entries.length);
    assert.equal(model.entryAt(12_345), 12_345);
  });

  it('keeps each view as its latest event has it, and the spares of the latest (a recorded session with three hosts)', () => {
    const model = new PanelModel();
    for (const message of viewed) model.apply(message);
    const expected = latestViews(viewed);
    assert.deepEqual(model.views, expected);
    assert.deepEqual(expected.map((v) => v.number), [1, 2, 3]);
    assert.deepEqual(model.spares, viewEvents(viewed).at(-1)!.spares);
    // A new session starts with no views.
    model.apply({ type: 'session', state: 'started' });
    assert.deepEqual([model.views, model.spares], [[], []]);
  });

  it('charts live progress apart from the debugger, lag never below zero, a clone apart from the log', () => {
    const model = new PanelModel();
    for (const message of rewound) model.apply(message);
    const s = model.series;
    // The debugger at instruction 1,000 moves no live count.
    assert.deepEqual(s.primary, [36_000_012_265, 36_000_012_265, 36_100_000_000, 36_200_000_000, 36_300_000_000]);
    // A backup being cloned has no count and no lag yet.
    assert.deepEqual(s.backup, [36_000_011_000, 36_000_012_265, null, null, 36_250_000_000]);
    assert.deepEqual(s.lag, [1265, 0, null, null, 50_000_000]);
    assert.ok(s.lag.every((v) => v === null || v >= 0));
    // Bytes per second: the log's 2,000 B per 500 ms, and the checkpoint's burst on its own series.
    assert.deepEqual(s.bandwidth, [null, 4000, 4000, 4000, 4000]);
    assert.deepEqual(s.checkpoint, [null, 0, 1_500_000, 4_500_000, 0]);
  });

  it('says the latest checkpoint and the outputs each unacknowledged checkpoint holds (checkpoint replication)', () => {
    const view = {
      taken: 12, acknowledged: 10, bytes: 9_000_000,
      recent: [
        { index: 11, full: false, dirtyPages: 40, bytes: 2_100, pauseMs: 1.26, ackDelayMs: 3.5 },
        { index: 12, full: false, dirtyPages: 1234, bytes: 61_000, pauseMs: 12.4 },
      ],
      held: [{ checkpoint: 12, outputs: 3 }, { outputs: 1 }],
    };
    assert.equal(fmt.checkpointLine(view), '#12: 1,234 dirty pages, 61 kB, paused 12 ms, waiting for its ack');
    const acked = { ...view, recent: [{ ...view.recent[0], index: 1, full: true }] };
    assert.equal(fmt.checkpointLine(acked), '#1 (full): 40 dirty pages, 2.1 kB, paused 1.3 ms, acked after 3.5 ms');
    assert.equal(fmt.checkpointLine({ ...view, recent: [] }), 'none yet');
    assert.equal(fmt.heldLine(view.held), '#12: 3 · epoch under way: 1');
    assert.equal(fmt.heldLine([]), 'none');
  });

  it('builds HTML with a strict CSP and checks what the webview posts (host side)', () => {
    const html = panelHtml({ scriptUri: 'https://x/p.js?a=1&b="2"', styleUri: 'https://x/p.css', cspSource: 'https://*.vscode-cdn.net', nonce: 'abc123+/=' });
    assert.match(html, /default-src 'none'; script-src 'nonce-abc123\+\/='; style-src https:\/\/\*\.vscode-cdn\.net; font-src https:\/\/\*\.vscode-cdn\.net/);
    assert.match(html, /<script nonce="abc123\+\/=" src="https:\/\/x\/p\.js\?a=1&amp;b=&quot;2&quot;"><\/script>/);
    assert.doesNotMatch(html, /<style|style=|unsafe-inline|unsafe-eval|http:\/\/(?!127)/);
    assert.throws(() => panelHtml({ scriptUri: '', styleUri: '', cspSource: 'x', nonce: "x' 'unsafe-inline" }), /nonce/);
    assert.throws(() => panelHtml({ scriptUri: '', styleUri: '', cspSource: 'x; script-src *', nonce: 'abc' }), /cspSource/);
    assert.ok(isPanelMessage({ type: 'goToInstruction', instruction: 42 }));
    assert.ok(isPanelMessage({ type: 'fault', kind: 'slow-backup', value: 20 }));
    assert.ok(!isPanelMessage({ type: 'fault', kind: 'format-disk' }));
    assert.ok(!isPanelMessage({ type: 'goToInstruction', instruction: -1 }));
    assert.ok(!isPanelMessage('ready'));
  });
});

describe('logging-channel panel (webview in headless Chromium)', function () {
  this.timeout(120_000);
  const harness = panelPages();
  const { openPanel, send, settle, posted, rowCount, rowVisible, pages } = harness;

  const SYNTHETIC = 100_000;

  /**
   * Adds 100 000 entries after the recorded ones, synthesized in the page (sending them through the
   * test driver would only be slower): entry n (from 1) has seq lastSeq + n and kind ENTRY_KINDS[n % 5].
   * Resolves with every entry's seq and kind, in the panel's order.
   */
  async function addSyntheticEntries(page: Page): Promise<Pick<EntryView, 'seq' | 'kind'>[]> {
    const { seq: lastSeq, at: lastAt } = recordedEntries.at(-1)!;
    await page.evaluate(({ lastSeq, lastAt, kinds, count }) => {
      for (let from = 1; from <= count; from += 5000) {
        const entries = Array.from({ length: 5000 }, (_, i) => {
          const n = from + i;
          return { seq: lastSeq + n, at: lastAt + n * 1000, kind: kinds[n % 5], size: 29 + (n % 40), acked: n < count - 10, text: `#${lastSeq + n} @${lastAt + n * 1000} synthetic ${n}` };
        });
        window.dispatchEvent(new MessageEvent('message', { data: { type: 'event', event: 'lockstep/entries', body: { entries } } }));
      }
    }, { lastSeq, lastAt, kinds: ENTRY_KINDS, count: SYNTHETIC });
    await settle(page);
    const synthetic = Array.from({ length: SYNTHETIC }, (_, i) => ({
      seq: lastSeq + i + 1,
      kind: ENTRY_KINDS[(i + 1) % 5],
    }));
    return [...recordedEntries, ...synthetic];
  }

  it('loads under its CSP, which blocks inline scripts, and says it is ready', async () => {
    const page = await openPanel('dark');
    const meta = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
    assert.equal(meta, panelCsp(harness.origin, harness.nonce));
    assert.deepEqual(await posted(page), [{ type: 'ready' }]);
    // An injected inline script must not run: that is what the CSP is for.
    const blocked = await page.evaluate(() => new Promise<{ ran: boolean; violations: string[] }>((resolve) => {
      const script = document.createElement('script');
      script.textContent = 'window.__inlineRan = true';
      document.head.append(script);
      setTimeout(() => {
        const violations = window.__violations.splice(0);
        resolve({ ran: (window as unknown as { __inlineRan?: boolean }).__inlineRan === true, violations });
      }, 50);
    }));
    assert.equal(blocked.ran, false);
    assert.ok(blocked.violations.some((v) => v.startsWith('script-src')), blocked.violations.join(', '));
    pages.at(-1)!.problems.splice(0); // the console error for that blocked script was expected
    // The codicon font came from the extension's own files.
    assert.ok(await page.evaluate(() => document.fonts.check('16px codicon')));
    // Before a session, every control is disabled.
    assert.deepEqual(await page.locator('.toolbar button').evaluateAll((bs) => bs.map((b) => (b as HTMLButtonElement).disabled)), [true, true, true, true, true, true]);
  });

  for (const theme of THEMES) {
    it(`renders the recorded FT session in the ${theme} theme`, async () => {
      const page = await openPanel(theme);
      await send(page, messages);
      const n = recordedEntries.length;
      assert.equal(await page.locator('#entries').getAttribute('aria-rowcount'), String(n + 1));
      const rows = await rowCount(page, 'entries');
      assert.ok(rows > 5 && rows < 80, `${rows} rows in the DOM`);
      // Following the log: the newest entry is in view.
      assert.ok(await rowVisible(page, 'entries', n - 1));
      const last = recordedEntries[n - 1];
      const lastRow = page.locator(`#entries-row-${n - 1}`);
      assert.equal(await lastRow.locator('.col-seq').textContent(), `#${last.seq}`);
      assert.equal(await lastRow.locator('.col-at').textContent(), last.at.toLocaleString('en-US'));
      assert.equal(await lastRow.locator('.col-kind').textContent(), last.kind);
      assert.equal(await lastRow.locator('.col-size').textContent(), `${last.size} B`);
      // Hosts after the failover: the old primary dead, the backup promoted, a clone backing it up.
      const hosts = await page.locator('.host').evaluateAll((items) => items.map((i) => i.className.replace('host role-', '') + ':' + i.querySelector('.host-id')!.textContent));
      assert.deepEqual(hosts, ['dead:host-1', 'primary:host-2', 'backup:host-3']);
      const timeline = await page.locator('.timeline-item').allTextContents();
      assert.ok(timeline.some((t) => /Failover: host-2 is the primary of generation 2/.test(t)), timeline.join('\n'));
      assert.ok(timeline.some((t) => /host-3 joined as the backup/.test(t)), timeline.join('\n'));
      // Outputs held by the Output Rule, with their release.
      const outputs = new Set(messages.flatMap((m) => (m.type === 'event' && m.event === 'lockstep/output' ? [m.body.seq] : []))).size;
      assert.equal(await page.locator('#outputs').getAttribute('aria-rowcount'), String(outputs + 1));
      assert.ok((await page.locator('#outputs .output-released').count()) > 0);
      // Two charts, drawn.
      const canvases = await page.locator('.chart canvas').evaluateAll((cs) => cs.map((c) => (c as HTMLCanvasElement).width));
      assert.equal(canvases.length, 2);
      assert.ok(canvases.every((w) => w > 100));
      assert.match((await page.locator('.chart-instructions-and-lag .chart-plot').getAttribute('aria-label'))!, /Primary [\d,]+, Backup [\d,]+, Lag [\d,]+; failover → host-2/);
      // The theme's colours are the ones in use.
      const background = themeVariables(theme).find(([name]) => name === '--vscode-editor-background')![1];
      const rgb = (hex: string) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;
      assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), rgb(background));
      await page.screenshot({ path: join(ARTIFACTS, `panel-${theme}.png`) });
    });
  }

  it('shows the checkpoint figures of a recorded checkpoint-mode session, and none in replay mode', async () => {
    const figure = (page: Page, name: string) => page.locator('.figure', { hasText: name });
    const replay = await openPanel('dark');
    await send(replay, messages);
    assert.ok(await figure(replay, 'Latest checkpoint').isHidden() && await figure(replay, 'Held per epoch').isHidden());
    type Channel = Extract<PanelInboundMessage, { event: 'lockstep/channel' }>;
    const isChannel = (m: PanelInboundMessage): m is Channel => m.type === 'event' && m.event === 'lockstep/channel';
    // An update with outputs held by a checkpoint not yet acknowledged; then the whole session (failover, new backup).
    const heldByCheckpoint = (m: PanelInboundMessage) =>
      isChannel(m) && !!m.body.checkpoints?.held.some((h) => h.checkpoint !== undefined);
    const holding = checkpointed.findIndex(heldByCheckpoint);
    assert.ok(holding > 0, 'the recording holds outputs under a checkpoint');
    for (const upTo of [holding + 1, checkpointed.length]) {
      const page = await openPanel('dark');
      await send(page, checkpointed.slice(0, upTo));
      const view = checkpointed.slice(0, upTo).filter(isChannel).at(-1)!.body.checkpoints!;
      const latest = view.recent.at(-1)!;
      const line = await figure(page, 'Latest checkpoint').locator('.figure-value').textContent();
      const number = `#${latest.index.toLocaleString('en-US')}${latest.full ? ' (full)' : ''}`;
      assert.ok(line!.startsWith(`${number}: ${latest.dirtyPages.toLocaleString('en-US')} dirty pages, `), line!);
      assert.equal(line, fmt.checkpointLine(view));
      const held = await figure(page, 'Held per epoch').locator('.figure-value').textContent();
      assert.equal(held, fmt.heldLine(view.held));
      if (upTo === holding + 1) assert.match(held!, /^#[\d,]+: \d+/);
      await page.screenshot({ path: join(ARTIFACTS, upTo === holding + 1 ? 'panel-checkpoint-held.png' : 'panel-checkpoint.png') });
    }
  });

  it('shows the view history and the idle spares of a recorded session with three hosts; no views without a view service', async () => {
    const plain = await openPanel('dark');
    await send(plain, messages);
    assert.ok(await plain.locator('.views-section').isHidden(), 'a pair without a view service has no views');
    /** The view table's rows, cell by cell, and the spares line. */
    const shown = async (page: Page) => {
      const count = Number(await page.locator('#views').getAttribute('aria-rowcount')) - 1;
      const rows = [];
      for (let i = 0; i < count; i++) rows.push(await page.locator(`#views-row-${i} .grid-cell`).allTextContents());
      return { rows, spares: await page.locator('.views-section .spares').textContent() };
    };
    const expected = (list: PanelInboundMessage[]) => ({
      rows: latestViews(list).map((v) => [
        String(v.number), v.primary ?? '–', v.backups.join(', ') || '–', v.acked ? 'acked' : 'not yet', fmt.sessionTime(v.time),
        describeCauses(v.causes),
      ]),
      spares: viewEvents(list).at(-1)!.spares.length ? `Idle spares: ${viewEvents(list).at(-1)!.spares.join(', ')}` : 'No idle spare',
    });
    // Partway: view 3 decided, and its primary has not acknowledged it yet.
    const third = viewed.findIndex((m) => m.type === 'event' && m.event === 'lockstep/views' && m.body.view.number === 3);
    const page = await openPanel('dark');
    await send(page, viewed.slice(0, third + 1));
    const partway = await shown(page);
    assert.deepEqual(partway, expected(viewed.slice(0, third + 1)));
    assert.equal(partway.rows[2][3], 'not yet');
    await send(page, viewed.slice(third + 1));
    const whole = await shown(page);
    assert.deepEqual(whole, expected(viewed));
    assert.deepEqual(whole.rows.map((r) => [r[0], r[1], r[2], r[3], r[5]]), [
      ['1', 'host-1', '–', 'acked', 'host-1 pinged first: primary'],
      ['2', 'host-1', 'host-2', 'acked', 'host-2 made backup'],
      ['3', 'host-2', 'host-3', 'acked', 'failover: host-1 gone, backup host-2 promoted; spare host-3 made backup'],
    ]);
    assert.equal(whole.spares, 'Idle spares: host-4');
    assert.equal(await page.locator('.host.role-spare .host-id').allTextContents().then((ids) => ids.join()), 'host-4');
    await page.screenshot({ path: join(ARTIFACTS, 'panel-views.png') });
  });

  it('shows where the debugger looks apart from the live progress, and a clone as cloning', async () => {
    const page = await openPanel('dark');
    const failover = rewound.findIndex((m) => m.type === 'event' && m.event === 'lockstep/failover');
    await send(page, rewound.slice(0, failover));
    const hosts = await page.locator('.host').allInnerTexts();
    assert.ok(hosts[0].includes('36,000,012,265') && hosts[0].includes('debugger at 1,000'), hosts.join(' | '));
    const lag = page.locator('.figure', { hasText: 'Lag' }).locator('.figure-value');
    assert.equal(await lag.textContent(), '0 instr.');
    await send(page, rewound.slice(failover, failover + 2));
    assert.equal(await lag.textContent(), 'cloning: 25% of the checkpoint');
    const clone = await page.locator('.host', { hasText: 'host-3' }).innerText();
    assert.match(clone, /cloning: 25% of the checkpoint/);
    assert.doesNotMatch(clone, /debugger at|\b0\b/);
    await send(page, rewound.slice(failover + 2));
    assert.equal(await lag.textContent(), '50,000,000 instr.');
    const bandwidth = (await page.locator('.chart-channel-bandwidth .chart-plot').getAttribute('aria-label'))!;
    assert.match(bandwidth, /Log 4 kB\/s, Checkpoint 0 B\/s/);
    const instructions = await page.locator('.chart-instructions-and-lag .chart-plot').getAttribute('aria-label');
    assert.doesNotMatch(instructions!, /Lag [−-]/);
    await page.screenshot({ path: join(ARTIFACTS, 'panel-rewound-clone.png') });
  });

  it('a host that has not reported yet says starting, not 0, and is kept out of the lag and the chart', async () => {
    const page = await openPanel('dark');
    const at = messages.findIndex((m) => m.type === 'event' && m.event === 'lockstep/channel');
    const first = messages[at] as Extract<PanelInboundMessage, { event: 'lockstep/channel' }>;
    const hosts = first.body.hosts.map((h) => (h.role === 'backup' ? { ...h, instructions: 0, starting: true as const } : h));
    await send(page, [...messages.slice(0, at), { ...first, body: { ...first.body, hosts, lag: 0 } }]);
    const backup = await page.locator('.host.role-backup').innerText();
    assert.match(backup, /starting/);
    assert.doesNotMatch(backup, /\b0\b/);
    assert.equal(await page.locator('.figure', { hasText: 'Lag' }).locator('.figure-value').textContent(), 'starting');
    assert.match((await page.locator('.chart-instructions-and-lag .chart-plot').getAttribute('aria-label'))!, /Backup –/);
  });

  it('shows a failover as it happens (screenshot during the failover)', async () => {
    const page = await openPanel('dark');
    const at = messages.findIndex((m) => m.type === 'event' && m.event === 'lockstep/failover');
    const next = messages.findIndex((m, i) => i > at && m.type === 'event' && m.event === 'lockstep/channel');
    await send(page, messages.slice(0, at));
    // The primary is dead; the backup has not gone live yet.
    const before = await page.locator('.host').allTextContents();
    assert.ok(before.some((t) => /host-1dead/.test(t)) && before.some((t) => /host-2backup/.test(t)), before.join(' | '));
    assert.match((await page.locator('.timeline-item').allTextContents()).join('\n'), /host-1 died \(was primary\)/);
    assert.ok(await page.locator('#control-kill-primary').isDisabled(), 'no primary to kill');
    await send(page, messages.slice(at, next + 1));
    const hosts = await page.locator('.host').allTextContents();
    assert.ok(hosts.some((t) => /host-1dead/.test(t)) && hosts.some((t) => /host-2primary/.test(t)), hosts.join(' | '));
    assert.match((await page.locator('.timeline-item').allTextContents()).join('\n'), /Failover: host-2 is the primary of generation 2/);
    assert.ok(await page.locator('#control-kill-primary').isEnabled());
    await page.screenshot({ path: join(ARTIFACTS, 'panel-failover.png') });
  });

  it('keeps a 100 000-entry log virtualized: few rows in the DOM, every entry reachable', async () => {
    const page = await openPanel('dark');
    await send(page, messages);
    const all = await addSyntheticEntries(page);
    const total = all.length;
    assert.equal(await page.locator('#entries').getAttribute('aria-rowcount'), String(total + 1));
    assert.equal(await page.locator('.entries-section .badge').textContent(), total.toLocaleString('en-US'));
    let rows = await rowCount(page, 'entries');
    assert.ok(rows < 80, `${rows} rows in the DOM for ${total} entries`);
    assert.ok(await rowVisible(page, 'entries', total - 1), 'the last entry is in view (following)');
    assert.equal(await page.locator(`#entries-row-${total - 1} .col-seq`).textContent(), `#${all[total - 1].seq}`);
    // Scroll to the top, the middle and back to the end with the scrollbar.
    const scrollTo = async (fraction: number) => {
      await page.locator('#entries .grid-viewport').evaluate((v, f) => { v.scrollTop = f * (v.scrollHeight - v.clientHeight); }, fraction);
      await settle(page);
      return page.locator('#entries .grid-spacer [role=row]').evaluateAll((rs) => rs.map((r) => Number((r as HTMLElement).dataset.index)));
    };
    const top = await scrollTo(0);
    assert.ok(top.includes(0) && await rowVisible(page, 'entries', 0));
    assert.equal(await page.locator('#entries-row-0 .col-seq').textContent(), `#${recordedEntries[0].seq}`);
    const middle = await scrollTo(0.5);
    assert.ok(middle.some((i) => Math.abs(i - total / 2) < 60), `rows ${middle[0]}..${middle.at(-1)} around ${total / 2}`);
    const end = await scrollTo(1);
    assert.ok(end.includes(total - 1) && await rowVisible(page, 'entries', total - 1));
    rows = await rowCount(page, 'entries');
    assert.ok(rows < 80, `${rows} rows in the DOM after scrolling`);
    // Unacknowledged entries show as such.
    assert.equal(await page.locator(`#entries-row-${total - 1} .col-ack`).textContent(), 'pending');
    assert.equal(await page.locator(`#entries-row-${total - 20} .col-ack`).textContent(), 'acked');
    // Entries the adapter left out of its events are counted, not shown.
    await send(page, [{ type: 'event', event: 'lockstep/entries', body: { entries: [], skipped: 1234 } }]);
    assert.equal(await page.locator('.entries-section .badge').textContent(), (total + 1234).toLocaleString('en-US'));
    assert.equal(await page.locator('.entries-section .section-note').textContent(), '1,234 not shown');
    // Home by keyboard also reaches the first entry.
    await page.locator('#entries').focus();
    await page.keyboard.press('Home');
    await settle(page);
    assert.ok(await rowVisible(page, 'entries', 0));
    assert.equal(await page.locator('#entries').getAttribute('aria-activedescendant'), 'entries-row-0');
  });

  it('fits counts up to 2^53 in the table columns and counters without clipping', async () => {
    const page = await openPanel('dark');
    await send(page, messages);
    const big = 2 ** 53 - 1; // 9,007,199,254,740,991: 16 digits
    const seq = 4_503_599_627_370_496; // 2^52, 16 digits
    await send(page, [
      { type: 'event', event: 'lockstep/entries', body: { entries: [{ seq, at: big, kind: 'output', size: 60, acked: false, text: `#${seq} @${big} output serial 3 "ok\\n"` }] } },
      { type: 'event', event: 'lockstep/output', body: { seq, at: big, text: 'ok\n', state: 'held', time: 9000 } },
      { type: 'event', event: 'lockstep/channel', body: { time: 9000, hosts: [{ id: 'host-2', role: 'primary', generation: 2, instructions: big }, { id: 'host-3', role: 'backup', generation: 2, instructions: big - 1 }], lag: 1, entriesLogged: seq, entriesAcked: seq - 1, ackedSeq: seq - 1, bytesSent: 1e12, outputsHeld: 1, outputsReleased: 0 } },
    ]);
    const row = `#entries-row-${recordedEntries.length}`;
    assert.equal(await page.locator(`${row} .col-at`).textContent(), big.toLocaleString('en-US'));
    const cells = [page.locator(`${row} .col-at`), page.locator(`${row} .col-seq`), page.locator('#outputs .col-seq', { hasText: `#${seq}` }), page.locator('.host-instr'), page.locator('.figure-value')];
    for (const cell of cells) {
      const sizes = await cell.evaluateAll((cs) => cs.map((c) => {
        // scrollWidth misses text that overflows to the left (right-aligned): the text's own box does not.
        const range = document.createRange();
        range.selectNodeContents(c);
        const [text, box] = [range.getBoundingClientRect(), c.getBoundingClientRect()];
        const inside = text.left >= box.left - 0.5 && text.right <= box.right + 0.5;
        return { text: c.textContent, scroll: c.scrollWidth, client: c.clientWidth, inside };
      }));
      assert.ok(sizes.length > 0, String(cell));
      for (const { text, scroll, client, inside } of sizes) assert.ok(scroll <= client && inside, `"${text}": scrollWidth ${scroll}, clientWidth ${client}${inside ? '' : ', text outside the cell'}`);
    }
    await page.screenshot({ path: join(ARTIFACTS, 'panel-large-counts.png') });
  });

  it('filters the entries by kind, from the keyboard, and still scrolls 100 000 of them', async () => {
    const page = await openPanel('dark');
    await send(page, messages);
    const all = await addSyntheticEntries(page);
    const filter = page.getByRole('toolbar', { name: 'Entry kinds shown' });
    const toggles = filter.getByRole('button');
    assert.deepEqual(await toggles.allTextContents(), [...ENTRY_KINDS]);
    const pressed = () => toggles.evaluateAll((bs) => bs.map((b) => b.getAttribute('aria-pressed')));
    assert.deepEqual(await pressed(), ['true', 'true', 'true', 'true', 'true', 'true']);
    // Each toggle has its kind's codicon in the theme's colour for the kind: epoch's is charts.green.
    assert.equal(await page.locator('#show-epoch .codicon-milestone').evaluate((i) => getComputedStyle(i).color), 'rgb(137, 209, 133)');
    const focused = () => page.evaluate(() => document.activeElement?.id ?? '');

    // One tab stop after the slow-down field: the toolbar; arrows move in it, Space and Enter toggle.
    await page.locator('#slow-ms').focus();
    for (let i = 0; i < 6 && !(await focused()).startsWith('show-'); i++) await page.keyboard.press('Tab');
    assert.equal(await focused(), 'show-input');
    const tabIndexes = await toggles.evaluateAll((bs) => bs.map((b) => (b as HTMLElement).tabIndex));
    assert.deepEqual(tabIndexes, [0, -1, -1, -1, -1, -1]);
    await page.keyboard.press('ArrowRight');
    assert.equal(await focused(), 'show-nondet');
    await page.keyboard.press('Space');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    assert.equal(await focused(), 'show-output');
    await page.keyboard.press('Enter');
    await page.keyboard.press('End');
    assert.equal(await focused(), 'show-end');
    await page.keyboard.press('ArrowLeft');
    assert.equal(await focused(), 'show-control');
    await page.keyboard.press('Space');
    await page.keyboard.press('Home');
    assert.equal(await focused(), 'show-input');
    await settle(page);
    assert.deepEqual(await pressed(), ['true', 'false', 'true', 'false', 'false', 'true']);

    // Only inputs and epochs now: every row in the DOM, at the top, the middle and the end.
    const shown = all.filter((e) => e.kind === 'input' || e.kind === 'epoch');
    assert.ok(shown.length > 40_000 && shown.length < all.length, `${shown.length} shown`);
    assert.equal(await page.locator('#entries').getAttribute('aria-rowcount'), String(shown.length + 1));
    assert.equal(await page.locator('.entries-section .badge').textContent(), `${shown.length.toLocaleString('en-US')} of ${all.length.toLocaleString('en-US')}`);
    const rowsInView = async (fraction: number) => {
      await page.locator('#entries .grid-viewport').evaluate((v, f) => { v.scrollTop = f * (v.scrollHeight - v.clientHeight); }, fraction);
      await settle(page);
      return page.locator('#entries .grid-spacer [role=row]').evaluateAll((rs) => rs.map((r) => ({
        index: Number((r as HTMLElement).dataset.index),
        seq: r.querySelector('.col-seq')!.textContent,
        kind: r.querySelector('.col-kind')!.textContent,
      })));
    };
    for (const [fraction, expected] of [[0, 0], [0.5, Math.round(shown.length / 2)], [1, shown.length - 1]]) {
      const rows = await rowsInView(fraction);
      assert.ok(rows.length > 5 && rows.length < 80, `${rows.length} rows in the DOM`);
      for (const row of rows) assert.deepEqual(row, { index: row.index, seq: `#${shown[row.index].seq}`, kind: shown[row.index].kind }, `row ${row.index} at ${fraction}`);
      assert.ok(rows.some((r) => Math.abs(r.index - expected) < 60), `rows ${rows[0].index}..${rows.at(-1)!.index} around ${expected}`);
    }
    assert.ok(await rowVisible(page, 'entries', shown.length - 1));

    // The active row keeps its entry when another kind is shown again.
    await page.keyboard.press('Tab'); // the follow button
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'entries');
    await page.keyboard.press('Home');
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowDown');
    await settle(page);
    const activeSeq = () => page.evaluate(() => {
      const id = document.getElementById('entries')!.getAttribute('aria-activedescendant');
      return id ? document.getElementById(id)!.querySelector('.col-seq')!.textContent : null;
    });
    assert.equal(await activeSeq(), `#${shown[3].seq}`);
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    assert.equal(await focused(), 'show-input', 'back on the toggle last focused');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('Space');
    await settle(page);
    assert.equal(await page.locator('#entries').getAttribute('aria-rowcount'), String(all.filter((e) => e.kind !== 'output' && e.kind !== 'control').length + 1));
    assert.equal(await activeSeq(), `#${shown[3].seq}`);
    await page.screenshot({ path: join(ARTIFACTS, 'panel-filtered-dark.png') });

    // With every kind hidden the table says so; with every kind shown it is whole again.
    for (const kind of ['input', 'nondet', 'epoch', 'end']) await page.locator(`#show-${kind}`).click();
    await settle(page);
    assert.equal(await page.locator('#entries').getAttribute('aria-rowcount'), '1');
    assert.equal(await page.locator('#entries .grid-empty').textContent(), 'No entries of the kinds shown.');
    for (const kind of ENTRY_KINDS) await page.locator(`#show-${kind}`).click();
    await settle(page);
    assert.deepEqual(await pressed(), ['true', 'true', 'true', 'true', 'true', 'true']);
    assert.equal(await page.locator('#entries').getAttribute('aria-rowcount'), String(all.length + 1));
    assert.equal(await page.locator('.entries-section .badge').textContent(), all.length.toLocaleString('en-US'));
  });

  it('keeps the kinds hidden across a reload of the page', async () => {
    const page = await openPanel('light');
    await send(page, messages);
    for (const kind of ['nondet', 'epoch']) await page.locator(`#show-${kind}`).click();
    await page.reload();
    await settle(page);
    await send(page, messages);
    const pressed = await page.getByRole('toolbar', { name: 'Entry kinds shown' }).getByRole('button').evaluateAll((bs) => bs.map((b) => b.getAttribute('aria-pressed')));
    assert.deepEqual(pressed, ENTRY_KINDS.map((kind) => String(kind !== 'nondet' && kind !== 'epoch')));
    const kinds = await page.locator('#entries .col-kind').evaluateAll((cells) => cells.map((c) => c.textContent ?? '').filter((k) => k !== 'Type'));
    assert.ok(kinds.length > 0, 'some entries are shown');
    assert.ok(kinds.every((kind) => kind !== 'nondet' && kind !== 'epoch'), `shown: ${[...new Set(kinds)].join(', ')}`);
  });

  it('posts the right message for every control', async () => {
    const page = await openPanel('light');
    await send(page, messages);
    await page.locator('#slow-ms').fill('35');
    for (const id of ['kill-primary', 'kill-backup', 'partition', 'heal', 'slow-backup', 'failover']) await page.locator(`#control-${id}`).click();
    assert.deepEqual((await posted(page)).slice(1), [
      { type: 'fault', kind: 'kill-primary' },
      { type: 'fault', kind: 'kill-backup' },
      { type: 'fault', kind: 'partition' },
      { type: 'fault', kind: 'heal' },
      { type: 'fault', kind: 'slow-backup', value: 35 },
      { type: 'failover' },
    ]);
    assert.match((await page.locator('.timeline-item').allTextContents()).join('\n'), /Asked: failover now/);
    // When the session ends, the controls go quiet.
    await send(page, [{ type: 'session', state: 'ended' }]);
    assert.ok(await page.locator('.toolbar button').evaluateAll((bs) => bs.every((b) => (b as HTMLButtonElement).disabled)));
  });

  it('asks the debugger to go to an entry when it is clicked', async () => {
    const page = await openPanel('dark');
    await send(page, messages);
    // A row in view (the DOM also holds a few rows above and below it); found by id, since rows are
    // recycled and their order in the DOM is not the entries' order.
    const index = recordedEntries.length - 4;
    assert.ok(await rowVisible(page, 'entries', index));
    const row = page.locator(`#entries-row-${index}`);
    await row.click();
    assert.deepEqual((await posted(page)).at(-1), { type: 'goToInstruction', instruction: recordedEntries[index].at });
    assert.equal(await row.getAttribute('aria-selected'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'entries');
  });

  it('shows a divergence banner with the epoch and the pages', async () => {
    const page = await openPanel('high-contrast');
    await send(page, messages);
    assert.ok(await page.locator('.banner').isHidden());
    // The recorded run did not diverge (it should not): this divergence is made up.
    await send(page, [{ type: 'event', event: 'lockstep/divergence', body: { epoch: 7, at: 14_000_123, primaryHash: '3fa2c0ffee00112233445566778899c1', backupHash: '99b0deadbeef00112233445566778e7e', pages: [18, 19, 64], parts: ['cpu'], time: 3000 } }]);
    const banner = page.locator('.banner');
    assert.ok(await banner.isVisible());
    assert.equal(await banner.getAttribute('role'), 'alert');
    const text = (await banner.textContent())!;
    assert.match(text, /Divergence at epoch 7 \(instruction 14,000,123\): 3 pages differ: 18, 19, 64; also cpu/);
    assert.match(text, /Primary 3fa2c0…99c1, backup 99b0de…8e7e/);
    assert.match((await page.locator('.timeline-item').allTextContents()).join('\n'), /Divergence at epoch 7: 3 pages differ/);
    await page.screenshot({ path: join(ARTIFACTS, 'panel-divergence-high-contrast.png') });
    await banner.getByRole('button', { name: 'Go to instruction' }).click();
    assert.deepEqual((await posted(page)).at(-1), { type: 'goToInstruction', instruction: 14_000_123 });
    await banner.getByRole('button', { name: 'Dismiss divergence' }).click();
    assert.ok(await banner.isHidden());
  });

  it('shows the guest\'s disk reads and writes (only when it has a disk), and a divergence\'s disk blocks', async () => {
    const page = await openPanel('light');
    await send(page, messages);
    const disk = page.locator('.figure', { hasText: 'Disk reads / writes' });
    assert.ok(await disk.isHidden(), 'the recorded run has no disk');
    const last = [...messages].reverse().find((m) => m.type === 'event' && m.event === 'lockstep/channel')!;
    const body = (last as Extract<PanelInboundMessage, { event: 'lockstep/channel' }>).body;
    const withDisk = { reads: 1200, bytesRead: 4_915_200, writes: 340, bytesWritten: 1_392_640, held: 2, reissued: 3 };
    await send(page, [{ type: 'event', event: 'lockstep/channel', body: { ...body, time: body.time + 500, disk: withDisk } }]);
    assert.ok(await disk.isVisible());
    const value = disk.locator('.figure-value');
    assert.equal(await value.textContent(), '1,200 / 340 · 2 held · 3 re-issued');
    assert.match((await value.getAttribute('title'))!, /^4\.92 MB read, 1\.39 MB written; 2 writes held by the Output Rule, 3 re-issued at go-live$/);
    await send(page, [{ type: 'event', event: 'lockstep/divergence', body: { epoch: 3, at: 6_000_000, primaryHash: '3fa2c0ffee00112233445566778899c1', backupHash: '99b0deadbeef00112233445566778e7e', pages: [], blocks: [10], parts: ['cpu or devices'], time: 4000 } }]);
    assert.match((await page.locator('.banner').textContent())!, /\(instruction 6,000,000\): no page differs; disk block 10; also cpu or devices\./);
  });

  it('works from the keyboard: tab order, toolbar arrows, grid navigation, visible focus', async () => {
    const page = await openPanel('dark');
    await send(page, messages);
    const focused = () => page.evaluate(() => {
      const a = document.activeElement as HTMLElement | null;
      return { id: a?.id ?? '', outline: a ? getComputedStyle(a).outlineStyle : '', role: a?.getAttribute('role') ?? '' };
    });
    await page.keyboard.press('Tab');
    let f = await focused();
    assert.equal(f.id, 'control-kill-primary');
    assert.notEqual(f.outline, 'none', 'the focused button shows its focus');
    // The toolbar is one tab stop; arrows move inside it.
    await page.keyboard.press('ArrowRight');
    assert.equal((await focused()).id, 'control-kill-backup');
    await page.keyboard.press('End');
    assert.equal((await focused()).id, 'control-failover');
    await page.keyboard.press('ArrowRight');
    assert.equal((await focused()).id, 'control-kill-primary', 'arrows wrap around');
    assert.deepEqual(await page.locator('.toolbar button').evaluateAll((bs) => bs.map((b) => (b as HTMLElement).tabIndex)), [0, -1, -1, -1, -1, -1]);
    await page.keyboard.press('Tab');
    assert.equal((await focused()).id, 'slow-ms');
    // Onwards to the entries grid, in a few steps.
    const order: string[] = [];
    for (let i = 0; i < 6 && (await focused()).id !== 'entries'; i++) {
      await page.keyboard.press('Tab');
      order.push((await focused()).id || (await focused()).role);
    }
    f = await focused();
    assert.equal(f.id, 'entries', `tab order: ${order.join(' → ')}`);
    assert.equal(f.role, 'grid');
    const n = recordedEntries.length;
    await page.keyboard.press('Home');
    await settle(page);
    assert.equal(await page.locator('#entries').getAttribute('aria-activedescendant'), 'entries-row-0');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await settle(page);
    assert.equal(await page.locator('#entries').getAttribute('aria-activedescendant'), 'entries-row-2');
    const active = page.locator('#entries-row-2');
    assert.equal(await active.getAttribute('aria-selected'), 'true');
    assert.notEqual(await active.evaluate((r) => getComputedStyle(r).outlineStyle), 'none', 'the active row shows the focus');
    await page.keyboard.press('Enter');
    assert.deepEqual((await posted(page)).at(-1), { type: 'goToInstruction', instruction: recordedEntries[2].at });
    await page.keyboard.press('PageDown');
    await settle(page);
    const paged = Number((await page.locator('#entries').getAttribute('aria-activedescendant'))!.split('-').at(-1));
    assert.ok(paged > 5 && await rowVisible(page, 'entries', paged), `PageDown went to ${paged}`);
    await page.keyboard.press('End');
    await settle(page);
    assert.equal(await page.locator('#entries').getAttribute('aria-activedescendant'), `entries-row-${n - 1}`);
    assert.ok(await rowVisible(page, 'entries', n - 1));
    await page.keyboard.press('Tab');
    assert.equal((await focused()).id, 'outputs');
    await page.screenshot({ path: join(ARTIFACTS, 'panel-keyboard-dark.png') });
  });
});
