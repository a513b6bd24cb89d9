// The logging-channel panel (webview side). It receives the adapter's events relayed by the
// extension ({ type: 'event', event, body }, see PanelInboundMessage), keeps them in a PanelModel,
// and renders at most once per animation frame however fast events come. Controls post
// PanelMessages back. No `vscode` import: this runs in the webview's page.
import {
  ENTRY_KINDS, type ChannelEventBody, type DiskView, type HostView, type PanelInboundMessage, type PanelMessage,
  type ViewRecord,
} from '../../adapter/protocol';
import { describeCauses } from '../../adapter/viewHistory';
// The file, not src/ft/cluster's index: it imports nothing, so it can be in a browser bundle.
import { FAULT_KINDS, type FaultKind, type FaultTarget } from '../../ft/cluster/faults';
import { Marker, TimeChart } from './charts';
import * as fmt from './format';
import { EntryRow, OutputRow, PanelModel, TimelineItem } from './model';
import { rovingToolbar } from './toolbar';
import { VirtualGrid, el, icon } from './virtualgrid';

/** What survives a reload of the page (VS Code keeps it for the webview). */
interface PanelState { hiddenKinds: EntryRow['kind'][] }

const vscode = acquireVsCodeApi<PanelState>();
const post = (message: PanelMessage) => vscode.postMessage(message);
const model = new PanelModel();

// ---- layout ----

const root = document.getElementById('lockstep-panel') ?? document.body.appendChild(el('main'));

const header = el('header', 'panel-header');
const sessionLabel = el('div', 'session');
const sessionIcon = icon('vm-outline');
const sessionName = el('span', 'session-name', 'No session');
const sessionClock = el('span', 'session-clock');
sessionLabel.append(sessionIcon, sessionName, sessionClock);

interface Control {
  id: string;
  label: string;
  icon: string;
  primary?: boolean;
  message: () => PanelMessage;
  enabled: () => boolean;
  describe: string;
}
const slowInput = el('input', 'slow-input');
const hasBackup = () => model.live && !!model.host('backup');
/** The faults with a button of their own, and its icon (the others are in the "Inject fault…" menu). */
const FAULT_ICONS = { 'kill-primary': 'debug-stop', 'kill-backup': 'stop-circle', partition: 'debug-disconnect', heal: 'plug', 'slow-backup': 'watch' } as const;
/** A fault's button is enabled while what it acts on is there. */
const TARGET_THERE: Record<FaultTarget, () => boolean> = {
  primary: () => model.live && !!model.host('primary'),
  backup: hasBackup,
  channel: () => model.live,
  'primary-end': () => model.live && !!model.host('primary'),
};
const controls: Control[] = [
  ...(Object.keys(FAULT_ICONS) as (keyof typeof FAULT_ICONS)[]).map((kind): Control => {
    const { short, does, on } = FAULT_KINDS[kind];
    // slow-backup's value comes from the input beside the buttons; the others take none.
    const message = () => fault(kind, kind === 'slow-backup' ? slowMs() : undefined);
    return {
      id: kind,
      label: short,
      icon: FAULT_ICONS[kind],
      message,
      enabled: TARGET_THERE[on],
      describe: does.charAt(0).toUpperCase() + does.slice(1),
    };
  }),
  { id: 'failover', label: 'Failover now', icon: 'arrow-swap', primary: true, message: () => ({ type: 'failover' }), enabled: hasBackup, describe: 'Make the backup go live now' },
];
function fault(kind: FaultKind, value?: number): PanelMessage {
  return value === undefined ? { type: 'fault', kind } : { type: 'fault', kind, value };
}
const SLOW_MS = Number(FAULT_KINDS['slow-backup'].example);
function slowMs(): number {
  const ms = Math.round(Number(slowInput.value));
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, 10_000) : SLOW_MS;
}

const toolbar = el('div', 'toolbar');
toolbar.setAttribute('role', 'toolbar');
toolbar.setAttribute('aria-label', 'Fault injection');
const buttons = controls.map((control) => {
  const button = el('button', `button ${control.primary ? 'button-primary' : 'button-secondary'}`);
  button.type = 'button';
  button.id = `control-${control.id}`;
  button.title = control.describe;
  button.append(icon(control.icon), el('span', 'button-label', control.label));
  button.addEventListener('click', () => {
    const message = control.message();
    post(message);
    model.noteRequest(`Asked: ${control.label.toLowerCase()}${message.type === 'fault' && message.value !== undefined ? ` (${message.value} ms per batch)` : ''}`);
    schedule();
  });
  return button;
});
toolbar.append(...buttons);
const updateToolbar = rovingToolbar(toolbar, buttons);

const slowLabel = el('label', 'slow-label');
slowInput.type = 'number';
slowInput.min = '1';
slowInput.max = '10000';
slowInput.value = String(SLOW_MS);
slowInput.id = 'slow-ms';
slowLabel.htmlFor = 'slow-ms';
slowLabel.append(el('span', '', 'Slow-down'), slowInput, el('span', 'unit', 'ms/batch'));
const controlsGroup = el('div', 'controls');
controlsGroup.append(toolbar, slowLabel);
header.append(sessionLabel, controlsGroup);

// Divergence banner: the latest divergence until dismissed.
const banner = el('div', 'banner');
banner.setAttribute('role', 'alert');
banner.hidden = true;
const bannerText = el('div', 'banner-text');
const bannerGo = el('button', 'button button-secondary banner-go');
bannerGo.type = 'button';
bannerGo.append(icon('debug-step-into'), el('span', 'button-label', 'Go to instruction'));
const bannerClose = el('button', 'icon-button banner-close');
bannerClose.type = 'button';
bannerClose.setAttribute('aria-label', 'Dismiss divergence');
bannerClose.title = 'Dismiss';
bannerClose.append(icon('close'));
banner.append(icon('warning', 'banner-icon'), bannerText, bannerGo, bannerClose);
let dismissedDivergences = 0;
bannerGo.addEventListener('click', () => {
  const d = model.divergences.at(-1);
  if (d) post({ type: 'goToInstruction', instruction: d.at });
});
bannerClose.addEventListener('click', () => {
  dismissedDivergences = model.divergences.length;
  banner.hidden = true;
});

// Hosts and channel figures.
const status = el('section', 'status');
status.setAttribute('aria-label', 'Hosts and channel');
const hostList = el('ul', 'hosts');
hostList.setAttribute('aria-label', 'Hosts');
const figures = el('dl', 'figures');
const figure = (label: string) => {
  const wrap = el('div', 'figure');
  const value = el('dd', 'figure-value', '–');
  wrap.append(el('dt', 'figure-label', label), value);
  figures.append(wrap);
  return value;
};
const lagValue = figure('Lag');
const loggedValue = figure('Logged / acked');
const bytesValue = figure('Channel');
const outputsValue = figure('Outputs held / released');
const diskValue = figure('Disk reads / writes');
/** Shown only for a guest with a disk. */
const diskFigure = diskValue.parentElement!;
diskFigure.hidden = true;
// Checkpoint replication only: the latest checkpoint, and the outputs each unacknowledged one holds.
const checkpointValue = figure('Latest checkpoint');
const heldValue = figure('Held per epoch');
status.append(hostList, figures);

// Charts.
const instrChart = new TimeChart('Instructions and lag', [
  { label: 'Primary', color: ['--vscode-charts-blue', '#3794ff'], scale: 'n', format: fmt.count },
  { label: 'Backup', color: ['--vscode-charts-green', '#89d185'], scale: 'n', format: fmt.count, dash: [5, 3] },
  { label: 'Lag', color: ['--vscode-charts-yellow', '#cca700'], scale: 'lag', format: fmt.count },
], [{ scale: 'n', format: fmt.compact }, { scale: 'lag', format: fmt.compact, side: 1 }]);
// A clone's checkpoint is megabytes in a moment: on its own scale, so the log's traffic stays readable.
const bandwidthChart = new TimeChart('Channel bandwidth', [
  { label: 'Log', color: ['--vscode-charts-purple', '#b180d7'], scale: 'bw', format: fmt.rate, fill: true },
  { label: 'Checkpoint', color: ['--vscode-charts-orange', '#d18616'], scale: 'cp', format: fmt.rate, dash: [4, 2] },
], [
  { scale: 'bw', format: (v) => fmt.rate(v).replace(' ', '') },
  { scale: 'cp', format: (v) => fmt.rate(v).replace(' ', ''), side: 1 },
]);
const charts = el('section', 'charts');
charts.setAttribute('aria-label', 'Charts');
charts.append(instrChart.element, bandwidthChart.element);

// Log entries.
const KIND_LABEL: Record<EntryRow['kind'], string> = { input: 'input', nondet: 'nondet', epoch: 'epoch', output: 'output', control: 'control', end: 'end' };
const ACK_TEXT: Record<EntryRow['state'], [string, string]> = { acked: ['pass', 'acked'], pending: ['circle-large', 'pending'], lost: ['error', 'lost'] };
function stateCell(cell: HTMLElement, [iconName, text]: [string, string], cls: string): void {
  cell.replaceChildren(icon(iconName, cls), el('span', '', text));
}
const entriesGrid = new VirtualGrid<EntryRow>({
  id: 'entries',
  label: 'Log entries',
  emptyText: 'No log entries yet.',
  row: (i) => model.entries[model.entryAt(i)],
  rowClass: (e) => `kind-${e.kind} state-${e.state}`,
  rowLabel: (e) => `Entry ${e.seq} at instruction ${fmt.count(e.at)}, ${e.kind}, ${e.size} bytes, ${ACK_TEXT[e.state][1]}`,
  onActivate: (e) => post({ type: 'goToInstruction', instruction: e.at }),
  columns: [
    { title: 'Seq', className: 'col-seq num', render: (c, e) => { c.textContent = `#${e.seq}`; } },
    { title: 'Instruction', className: 'col-at num', render: (c, e) => { c.textContent = fmt.count(e.at); } },
    { title: 'Type', className: 'col-kind', render: (c, e) => { c.replaceChildren(el('span', `kind-dot kind-${e.kind}`), el('span', '', KIND_LABEL[e.kind])); } },
    { title: 'Size', className: 'col-size num', render: (c, e) => { c.textContent = `${e.size} B`; } },
    { title: 'Ack', className: 'col-ack', render: (c, e) => stateCell(c, ACK_TEXT[e.state], `ack-${e.state}`) },
    { title: 'Entry', className: 'col-text', render: (c, e) => { c.textContent = e.text.replace(/^#\d+ @\d+ /, ''); c.title = e.text; } },
  ],
});
/** A section named by its heading (for screen readers): the section and its head row, title first. */
function titledSection(name: string, title: string): { section: HTMLElement; head: HTMLElement } {
  const section = el('section', `${name}-section`);
  section.setAttribute('aria-labelledby', `${name}-title`);
  const heading = el('h2', 'section-title', title);
  heading.id = `${name}-title`;
  const head = el('div', 'section-head');
  head.append(heading);
  return { section, head };
}

const { section: entriesSection, head: entriesHead } = titledSection('entries', 'Log entries');
const entriesCount = el('span', 'badge', '0');
const entriesNote = el('span', 'section-note');
const followButton = el('button', 'icon-button follow');
followButton.type = 'button';
followButton.title = 'Follow new entries';
followButton.setAttribute('aria-label', 'Follow new entries');
followButton.append(icon('pinned'));
followButton.addEventListener('click', () => entriesGrid.follow(!entriesGrid.isFollowing));
entriesGrid.onFollow((on) => followButton.setAttribute('aria-pressed', String(on)));
followButton.setAttribute('aria-pressed', 'true');

// Which kinds of entry the table shows: toggle buttons, all pressed at first.
const KIND_FILTER: Record<EntryRow['kind'], { icon: string; describe: string }> = {
  input: { icon: 'sign-in', describe: 'Inputs: what clients sent the guest' },
  nondet: { icon: 'symbol-numeric', describe: 'Nondeterministic values: clock and RTC readings, random numbers' },
  epoch: { icon: 'milestone', describe: 'Epochs: the state hashes the backup compares' },
  output: { icon: 'sign-out', describe: 'Output markers: what the Output Rule holds until acknowledged' },
  control: { icon: 'gear', describe: 'Control: session events both sides apply at the same instruction' },
  end: { icon: 'debug-stop', describe: 'End: a replayed recording was closed there, not cut short' },
};
const kindFilter = el('div', 'kind-filter');
kindFilter.setAttribute('role', 'toolbar');
kindFilter.setAttribute('aria-label', 'Entry kinds shown');
const kindButtons = ENTRY_KINDS.map((kind) => {
  const button = el('button', `kind-toggle kind-${kind}`);
  button.type = 'button';
  button.id = `show-${kind}`;
  button.title = `${KIND_FILTER[kind].describe}. Shown when pressed.`;
  button.setAttribute('aria-pressed', 'true');
  button.append(icon(KIND_FILTER[kind].icon), el('span', '', KIND_LABEL[kind]));
  button.addEventListener('click', () => {
    // The active row stays on its entry, or the next one shown, unless the table follows new ones.
    const active = entriesGrid.activeIndex >= 0 ? model.entryAt(entriesGrid.activeIndex) : -1;
    showKind(kind, !model.shownKinds.has(kind));
    renderEntries();
    if (active >= 0 && !entriesGrid.isFollowing) entriesGrid.setActive(model.rowOf(active));
  });
  return button;
});
kindFilter.append(...kindButtons);

function showKind(kind: EntryRow['kind'], on: boolean): void {
  kindButtons[ENTRY_KINDS.indexOf(kind)].setAttribute('aria-pressed', String(on));
  model.showKind(kind, on);
  vscode.setState({ hiddenKinds: ENTRY_KINDS.filter((k) => !model.shownKinds.has(k)) });
}

// A reload of the page (VS Code reloading webviews) keeps the kinds the user hid.
for (const kind of vscode.getState()?.hiddenKinds ?? []) if (ENTRY_KINDS.includes(kind)) showKind(kind, false);
rovingToolbar(kindFilter, kindButtons);

entriesHead.append(entriesCount, entriesNote, el('span', 'spacer'), kindFilter, followButton);
entriesSection.append(entriesHead, entriesGrid.element);

// Outputs held by the Output Rule.
const OUTPUT_TEXT: Record<OutputRow['state'], [string, string]> = { held: ['shield', 'held'], released: ['pass', 'released'], dropped: ['circle-slash', 'never released'] };
const outputsGrid = new VirtualGrid<OutputRow>({
  id: 'outputs',
  label: 'Outputs held by the Output Rule',
  emptyText: 'No outputs yet.',
  row: (i) => model.outputs[i],
  rowClass: (o) => `output-${o.state}`,
  onActivate: (o) => post({ type: 'goToInstruction', instruction: o.at }),
  columns: [
    { title: 'Seq', className: 'col-seq num', render: (c, o) => { c.textContent = `#${o.seq}`; } },
    { title: 'State', className: 'col-state', render: (c, o) => stateCell(c, OUTPUT_TEXT[o.state], `out-${o.state}`) },
    { title: 'Held', className: 'col-held num', render: (c, o) => { c.textContent = o.heldMs !== undefined ? fmt.duration(o.heldMs) : o.heldAt !== undefined ? `since ${fmt.sessionTime(o.heldAt)}` : '–'; } },
    { title: 'Released', className: 'col-released num', render: (c, o) => { c.textContent = o.releasedAt !== undefined ? fmt.sessionTime(o.releasedAt) : '–'; } },
    { title: 'Output', className: 'col-text', render: (c, o) => { c.textContent = o.text; c.title = o.text; } },
  ],
});
const { section: outputsSection, head: outputsHead } = titledSection('outputs', 'Output Rule');
const outputsCount = el('span', 'badge', '0');
outputsHead.append(outputsCount);
outputsSection.append(outputsHead, outputsGrid.element);

// The view service's views (launch attribute `hosts`) and its idle spares; hidden in a session without one.
const VIEW_ACK: Record<'acked' | 'pending', [string, string]> = { acked: ['pass', 'acked'], pending: ['circle-large', 'not yet'] };
const viewAck = (v: ViewRecord) => (v.acked ? 'acked' : 'pending');
const viewsGrid = new VirtualGrid<ViewRecord>({
  id: 'views',
  label: 'Views of the view service',
  emptyText: 'No view yet.',
  row: (i) => model.views[i],
  rowClass: (v) => `view-${viewAck(v)}`,
  rowLabel: (v) => `View ${v.number}: primary ${v.primary ?? 'none'}, backup ${v.backups.join(', ') || 'none'}, `
    + `${v.acked ? 'acknowledged' : 'not acknowledged yet'}, at ${fmt.sessionTime(v.time)}: ${describeCauses(v.causes)}`,
  columns: [
    { title: 'View', className: 'col-view num', render: (c, v) => { c.textContent = String(v.number); } },
    { title: 'Primary', className: 'col-primary', render: (c, v) => { c.textContent = v.primary ?? '–'; } },
    { title: 'Backup', className: 'col-backups', render: (c, v) => { c.textContent = v.backups.join(', ') || '–'; } },
    { title: 'Acked', className: 'col-acked', render: (c, v) => stateCell(c, VIEW_ACK[viewAck(v)], `ack-${viewAck(v)}`) },
    { title: 'When', className: 'col-when num', render: (c, v) => { c.textContent = fmt.sessionTime(v.time); } },
    { title: 'Cause', className: 'col-text', render: (c, v) => { c.textContent = describeCauses(v.causes); c.title = c.textContent; } },
  ],
});
const { section: viewsSection, head: viewsHead } = titledSection('views', 'Views');
const viewsCount = el('span', 'badge', '0');
const sparesNote = el('span', 'section-note spares');
viewsHead.append(viewsCount, sparesNote);
viewsSection.append(viewsHead, viewsGrid.element);
viewsSection.hidden = true;

// Timeline.
const { section: timelineSection, head: timelineHead } = titledSection('timeline', 'Timeline');
const timelineList = el('ol', 'timeline');
timelineList.setAttribute('aria-label', 'Timeline');
timelineList.tabIndex = 0;
timelineSection.append(timelineHead, timelineList);

const side = el('div', 'side');
side.append(outputsSection, timelineSection);
const body = el('div', 'body');
body.append(entriesSection, side);
root.append(header, banner, status, charts, viewsSection, body);

// ---- rendering ----

let frame = 0;
function schedule(): void {
  if (!frame) frame = requestAnimationFrame(render);
}

const ROLE_ICON: Record<HostView['role'], string> = { primary: 'vm-running', backup: 'vm-outline', spare: 'vm-outline', halted: 'debug-pause', dead: 'error', stopped: 'vm' };
const TIMELINE_ICON: Record<TimelineItem['kind'], string> = { session: 'debug-start', failover: 'arrow-swap', divergence: 'warning', died: 'error', halted: 'debug-pause', attached: 'plug', fault: 'flame' };

function render(): void {
  frame = 0;
  const dirty = model.takeDirty();
  if (dirty.session || dirty.channel) renderStatus();
  if (dirty.entries) renderEntries();
  if (dirty.outputs) {
    outputsGrid.update(model.outputs.length);
    outputsCount.textContent = fmt.count(model.outputs.length);
  }
  if (dirty.entries || dirty.outputs) fitCountColumns();
  if (dirty.channel || dirty.timeline || dirty.divergence) renderCharts();
  if (dirty.timeline) renderTimeline();
  if (dirty.divergence) renderBanner();
  if (dirty.views) renderViews();
}

function renderViews(): void {
  viewsSection.hidden = !model.views.length;
  viewsGrid.update(model.views.length);
  viewsCount.textContent = fmt.count(model.views.length);
  sparesNote.textContent = model.spares.length ? `Idle spares: ${model.spares.join(', ')}` : 'No idle spare';
  sparesNote.title = 'Live hosts in no role of the current view: the view service makes one the backup when the view lacks one';
}

function renderEntries(): void {
  const rows = model.rowCount;
  entriesGrid.update(rows);
  entriesGrid.emptyText = model.entries.length ? 'No entries of the kinds shown.' : 'No log entries yet.';
  const hidden = model.droppedEntries + model.skippedEntries;
  const total = fmt.count(model.entries.length + hidden);
  entriesCount.textContent = rows === model.entries.length ? total : `${fmt.count(rows)} of ${total}`;
  entriesNote.textContent = hidden ? `${fmt.count(hidden)} not shown` : '';
  entriesNote.title = hidden ? `${fmt.count(model.skippedEntries)} left out of the adapter's events (it sends at most so many at a time), ${fmt.count(model.droppedEntries)} older ones let go of to bound memory` : '';
}

/** Count columns as wide as the largest seq and instruction count so far (panel.css: in characters). */
function fitCountColumns(): void {
  root.style.setProperty('--seq-chars', String(`#${model.widest.seq}`.length));
  root.style.setProperty('--at-chars', String(fmt.count(model.widest.at).length));
}

function renderStatus(): void {
  const channel = model.channel;
  sessionName.textContent = model.sessionName ?? (channel ? 'FT session' : 'No session');
  sessionIcon.className = `codicon codicon-${model.live ? 'vm-running' : 'vm-outline'}`;
  sessionClock.textContent = channel ? fmt.sessionTime(channel.time) : '';
  root.classList.toggle('live', model.live);
  controls.forEach((control, i) => { buttons[i].disabled = !control.enabled(); });
  updateToolbar();
  slowInput.disabled = buttons[controls.findIndex((c) => c.id === 'slow-backup')].disabled;
  hostList.replaceChildren(...(channel?.hosts ?? []).map((h) => {
    const item = el('li', `host role-${h.role}`);
    // Live progress and where the debugger looks are two things: a rewound debugger moves only the latter.
    const progress = hostProgress(h);
    const looking = h.debuggerAt !== undefined && h.debuggerAt !== h.instructions && !h.cloning && !h.starting;
    const badge = el('span', `role-badge role-${h.role}`, h.role);
    item.append(icon(ROLE_ICON[h.role]), el('span', 'host-id', h.id), badge);
    // An idle spare belongs to no generation and runs no machine yet.
    if (h.role !== 'spare') item.append(el('span', 'host-gen', `gen ${h.generation}`), el('span', 'host-instr num', progress));
    if (looking) item.append(el('span', 'host-debugger num', `debugger at ${fmt.count(h.debuggerAt!)}`));
    const debuggerText = looking ? `; the debugger shows instruction ${fmt.count(h.debuggerAt!)}` : '';
    const run = h.cloning || h.starting ? progress : `${progress} instructions run`;
    item.title = h.role === 'spare'
      ? `${h.id}: an idle spare, with no machine until the view service makes it the backup`
      : `${h.id}: ${h.role}, generation ${h.generation}, ${run}${debuggerText}`;
    return item;
  }));
  if (!channel) {
    for (const v of [lagValue, loggedValue, bytesValue, outputsValue]) v.textContent = '–';
    renderCheckpoints(undefined);
    return;
  }
  const backup = model.host('backup');
  const lag = backup?.cloning || backup?.starting ? hostProgress(backup) : `${fmt.count(Math.max(0, channel.lag))} instr.`;
  lagValue.textContent = backup ? lag : 'no backup';
  loggedValue.textContent = `${fmt.count(channel.entriesLogged)} / ${fmt.count(channel.entriesAcked)}`;
  const bw = model.series.bandwidth.at(-1);
  bytesValue.textContent = `${fmt.bytes(channel.bytesSent)}${bw != null ? ` · ${fmt.rate(bw)}` : ''}`;
  outputsValue.textContent = `${fmt.count(channel.outputsHeld)} / ${fmt.count(channel.outputsReleased)}`;
  renderDisk(channel.disk);
  renderCheckpoints(channel.checkpoints);
}

function renderCheckpoints(view: ChannelEventBody['checkpoints']): void {
  for (const value of [checkpointValue, heldValue]) value.parentElement!.hidden = !view;
  if (!view) return;
  checkpointValue.textContent = fmt.checkpointLine(view);
  checkpointValue.title = `${fmt.count(view.taken)} checkpoints taken, ${fmt.count(view.acknowledged)} acknowledged, ${fmt.bytes(view.bytes)} sent`;
  heldValue.textContent = fmt.heldLine(view.held);
}

function renderDisk(disk: DiskView | undefined): void {
  diskFigure.hidden = !disk;
  if (!disk) return;
  const extra = [disk.held ? `${fmt.count(disk.held)} held` : '', disk.reissued ? `${fmt.count(disk.reissued)} re-issued` : ''];
  diskValue.textContent = [`${fmt.count(disk.reads)} / ${fmt.count(disk.writes)}`, ...extra.filter(Boolean)].join(' · ');
  diskValue.title = `${fmt.bytes(disk.bytesRead)} read, ${fmt.bytes(disk.bytesWritten)} written; `
    + `${fmt.count(disk.held)} writes held by the Output Rule, ${fmt.count(disk.reissued)} re-issued at go-live`;
}

/** How far a host has run; a host that has not reported yet, or is being cloned, says so instead of a count. */
function hostProgress(h: HostView): string {
  if (h.cloning) return cloningText(h.cloning);
  return h.starting ? 'starting' : fmt.count(h.instructions);
}

/** A backup being cloned, by how much of its checkpoint has arrived. */
function cloningText({ received, total }: { received: number; total: number }): string {
  if (!total) return 'cloning: waiting for the checkpoint';
  if (received === total) return 'cloning: restoring the checkpoint';
  return `cloning: ${Math.floor((received / total) * 100)}% of the checkpoint`;
}

function markers(): Marker[] {
  return [
    ...model.failovers.map((f): Marker => ({ x: f.time / 1000, label: `failover → ${f.newPrimary}`, kind: 'failover' })),
    ...model.divergences.filter((d) => d.time !== undefined).map((d): Marker => ({ x: d.time! / 1000, label: `divergence e${d.epoch}`, kind: 'divergence' })),
  ];
}

function renderCharts(): void {
  const s = model.series;
  const m = markers();
  instrChart.setData([s.time, s.primary, s.backup, s.lag], m);
  bandwidthChart.setData([s.time, s.bandwidth, s.checkpoint], m);
}

function renderTimeline(): void {
  const items = model.timeline.slice(-500);
  timelineList.replaceChildren(...items.map((item) => {
    const li = el('li', `timeline-item timeline-${item.kind}`);
    li.append(icon(TIMELINE_ICON[item.kind]), el('span', 'timeline-time num', fmt.sessionTime(item.time)), el('span', 'timeline-text', item.text));
    return li;
  }));
  timelineList.scrollTop = timelineList.scrollHeight;
}

function renderBanner(): void {
  const d = model.divergences.at(-1);
  if (!d || model.divergences.length <= dismissedDivergences) {
    banner.hidden = true;
    return;
  }
  const shown = d.pages.slice(0, 12);
  const pages = d.pages.length
    ? `${d.pages.length} page${d.pages.length === 1 ? '' : 's'} differ: ${shown.join(', ')}${d.pages.length > shown.length ? ` and ${d.pages.length - shown.length} more` : ''}`
    : d.blocks ? 'no page differs' : 'page hashes not known yet';
  const moreBlocks = (d.blocks?.length ?? 0) > 12 ? ` and ${d.blocks!.length - 12} more` : '';
  const blocks = d.blocks?.length ? `; disk block${d.blocks.length === 1 ? '' : 's'} ${d.blocks.slice(0, 12).join(', ')}${moreBlocks}` : '';
  const parts = `${blocks}${d.parts.length ? `; also ${d.parts.join(', ')}` : ''}`;
  const more = model.divergences.length > 1 ? ` (${model.divergences.length} divergences so far)` : '';
  bannerText.replaceChildren(
    el('strong', '', `Divergence at epoch ${d.epoch}`),
    document.createTextNode(` (instruction ${fmt.count(d.at)}): ${pages}${parts}. Primary ${fmt.shortHash(d.primaryHash)}, backup ${fmt.shortHash(d.backupHash)}${more}.`),
  );
  bannerText.title = d.pages.length ? `Pages (4 KiB): ${d.pages.map((p) => `${p} (0x${(p * 4096).toString(16)})`).join(', ')}` : '';
  banner.hidden = false;
}

// ---- messages ----

window.addEventListener('message', (event: MessageEvent<PanelInboundMessage>) => {
  const message = event.data;
  if (!message || (message.type !== 'event' && message.type !== 'session')) return;
  model.apply(message);
  schedule();
});

// Charts take their colours from the theme. On a theme change VS Code sets the body's classes and
// the --vscode-* variables on the root element's style.
const themeObserver = new MutationObserver(() => {
  instrChart.rebuild();
  bandwidthChart.rebuild();
  renderCharts();
});
themeObserver.observe(document.body, { attributes: true, attributeFilter: ['class'] });
themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ['style'] });

render();
post({ type: 'ready' });
