// The panel's state, built from the messages the extension relays (src/adapter/protocol.ts). No DOM
// here: main.ts renders it. Log seqs continue across failovers, but what the old primary logged
// past the new primary's last applied entry is gone, and the new primary logs other entries under
// the same seqs; so every row remembers the generation it arrived in.
import {
  ENTRY_KINDS, type ChannelEventBody, type DivergenceEventBody, type EntryView, type FailoverEventBody, type HostView,
  type OutputEventBody,
  type PanelInboundMessage, type ViewRecord, type ViewsEventBody,
} from '../../adapter/protocol';

export type AckState = 'acked' | 'pending' | 'lost';

export interface EntryRow {
  seq: number;
  at: number;
  kind: EntryView['kind'];
  size: number;
  text: string;
  generation: number;
  state: AckState;
}

export type OutputState = 'held' | 'released' | 'dropped';

export interface OutputRow {
  seq: number;
  at: number;
  text: string;
  generation: number;
  state: OutputState;
  /** Session ms. */
  heldAt?: number;
  releasedAt?: number;
  heldMs?: number;
}

export type TimelineKind = 'session' | 'failover' | 'divergence' | 'died' | 'halted' | 'attached' | 'fault';

export interface TimelineItem {
  /** Session ms. */
  time: number;
  kind: TimelineKind;
  text: string;
  instruction?: number;
}

/** Columns for the charts, one point per channel event; null where there is no such host. */
export interface Series {
  /** Seconds since the session started. */
  time: number[];
  /** Live progress (under the debugger: how far recorded, not where the debugger looks). */
  primary: (number | null)[];
  /** Null while the backup is cloned: it has no machine to count with yet. */
  backup: (number | null)[];
  lag: (number | null)[];
  /** Bytes per second of the log on the channel since the previous point (checkpoints apart). */
  bandwidth: (number | null)[];
  /** Bytes per second of checkpoints to a new backup: a clone's burst, on a scale of its own. */
  checkpoint: (number | null)[];
}

/** Kept in memory at most; older entries are dropped (the adapter's lockstep/logEntries has them all). */
export const MAX_ENTRIES = 1_000_000;
export const MAX_OUTPUTS = 100_000;
/** Chart points kept: a point every 250 ms is over an hour. */
export const MAX_POINTS = 20_000;

const emptySeries = (): Series => ({ time: [], primary: [], backup: [], lag: [], bandwidth: [], checkpoint: [] });

/** Which parts changed since the last render. */
export interface Dirty {
  entries: boolean;
  outputs: boolean;
  channel: boolean;
  timeline: boolean;
  divergence: boolean;
  session: boolean;
  views: boolean;
}
const clean = (): Dirty => ({
  entries: false, outputs: false, channel: false, timeline: false, divergence: false, session: false, views: false,
});
const allDirty = (): Dirty => ({
  entries: true, outputs: true, channel: true, timeline: true, divergence: true, session: true, views: true,
});

export class PanelModel {
  entries: EntryRow[] = [];
  /** Older entries let go of to bound memory. */
  droppedEntries = 0;
  /** Entries the adapter left out of its events (it sends at most so many per event). */
  skippedEntries = 0;
  outputs: OutputRow[] = [];
  timeline: TimelineItem[] = [];
  divergences: DivergenceEventBody[] = [];
  failovers: FailoverEventBody[] = [];
  /** Under a view service: every view, in order of number, as last reported (acknowledged or not yet). */
  views: ViewRecord[] = [];
  /** Hosts the view service sees as idle spares, as of the latest views event. */
  spares: string[] = [];
  channel: ChannelEventBody | undefined;
  series: Series = emptySeries();
  sessionName: string | undefined;
  /** A session is running: the controls may act on it. */
  live = false;
  generation = 1;
  /** The largest seq and instruction count so far: the table's count columns fit them. */
  widest = { seq: 0, at: 0 };
  /** The kinds of entry the table shows. */
  readonly shownKinds = new Set(ENTRY_KINDS);
  dirty: Dirty = allDirty();

  /** Entries before this index have their final ack state. */
  private pendingFrom = 0;
  /** With a kind hidden: the indices in `entries` of the table's rows, in order (else all entries are rows). */
  private rows: number[] | undefined;
  private outputIndex = new Map<number, OutputRow>();
  private roles = new Map<string, HostView['role']>();
  private lastBytes: { time: number; bytes: number; checkpoint: number } | undefined;

  apply(message: PanelInboundMessage): void {
    if (message.type === 'session') {
      if (message.state === 'started') {
        this.reset();
        this.sessionName = message.name;
        this.live = true;
        this.note({ time: 0, kind: 'session', text: `Session started${message.name ? `: ${message.name}` : ''}` });
      } else {
        this.live = false;
        this.note({ time: this.now, kind: 'session', text: 'Session ended' });
      }
      this.dirty.session = true;
      return;
    }
    switch (message.event) {
      case 'lockstep/channel': return this.onChannel(message.body);
      case 'lockstep/entries':
        this.skippedEntries += message.body.skipped ?? 0;
        return this.onEntries(message.body.entries);
      case 'lockstep/output': return this.onOutput(message.body);
      case 'lockstep/divergence': return this.onDivergence(message.body);
      case 'lockstep/failover': return this.onFailover(message.body);
      case 'lockstep/views': return this.onViews(message.body);
    }
  }

  /** Session ms of the latest channel update. */
  get now(): number {
    return this.channel?.time ?? 0;
  }

  host(role: HostView['role']): HostView | undefined {
    return this.channel?.hosts.find((h) => h.role === role);
  }

  /** Rows in the entries table: the entries of the kinds shown. */
  get rowCount(): number {
    return this.rows?.length ?? this.entries.length;
  }

  /** The index in `entries` of table row `row`. */
  entryAt(row: number): number {
    return this.rows ? this.rows[row] : row;
  }

  /** The table row of entry `index`, or of the first one shown after it (rowCount if none is). */
  rowOf(index: number): number {
    if (!this.rows) return index;
    let [low, high] = [0, this.rows.length];
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.rows[mid] < index) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Shows or hides one kind of entry in the table. */
  showKind(kind: EntryView['kind'], shown: boolean): void {
    if (shown) this.shownKinds.add(kind);
    else this.shownKinds.delete(kind);
    this.filterRows();
    this.dirty.entries = true;
  }

  private filterRows(): void {
    if (this.shownKinds.size === ENTRY_KINDS.length) {
      this.rows = undefined;
      return;
    }
    this.rows = [];
    for (let i = 0; i < this.entries.length; i++) if (this.shownKinds.has(this.entries[i].kind)) this.rows.push(i);
  }

  /** A fault the user asked for, on the timeline next to what it caused. */
  noteRequest(text: string): void {
    this.note({ time: this.now, kind: 'fault', text });
  }

  takeDirty(): Dirty {
    const dirty = this.dirty;
    this.dirty = clean();
    return dirty;
  }

  private reset(): void {
    this.entries = [];
    this.droppedEntries = 0;
    this.skippedEntries = 0;
    this.outputs = [];
    this.timeline = [];
    this.divergences = [];
    this.failovers = [];
    this.views = [];
    this.spares = [];
    this.channel = undefined;
    this.series = emptySeries();
    this.generation = 1;
    this.widest = { seq: 0, at: 0 };
    this.filterRows();
    this.pendingFrom = 0;
    this.outputIndex.clear();
    this.roles.clear();
    this.lastBytes = undefined;
    this.dirty = allDirty();
  }

  /** In time order: events can arrive a little out of it (a divergence is found after the fact). */
  private note(item: TimelineItem): void {
    let i = this.timeline.length;
    while (i > 0 && this.timeline[i - 1].time > item.time) i--;
    this.timeline.splice(i, 0, item);
    this.dirty.timeline = true;
  }

  private onEntries(views: EntryView[]): void {
    for (const v of views) {
      if (this.rows && this.shownKinds.has(v.kind)) this.rows.push(this.entries.length);
      this.entries.push({ seq: v.seq, at: v.at, kind: v.kind, size: v.size, text: v.text, generation: this.generation, state: v.acked ? 'acked' : 'pending' });
      this.widest.seq = Math.max(this.widest.seq, v.seq);
      this.widest.at = Math.max(this.widest.at, v.at);
    }
    if (this.entries.length > MAX_ENTRIES) {
      // Drop a tenth at once: splicing a million-element array on every batch would cost more.
      const drop = this.entries.length - MAX_ENTRIES + MAX_ENTRIES / 10;
      this.entries.splice(0, drop);
      this.droppedEntries += drop;
      this.pendingFrom = Math.max(0, this.pendingFrom - drop);
      this.filterRows();
    }
    if (this.channel) this.acknowledge(this.channel.ackedSeq ?? this.channel.entriesAcked);
    this.dirty.entries = true;
  }

  /** Entries of the current generation up to `seq` are acknowledged (cumulative acks). */
  private acknowledge(seq: number): void {
    let i = this.pendingFrom;
    const entries = this.entries;
    while (i < entries.length && (entries[i].state !== 'pending' || entries[i].generation !== this.generation)) i++;
    const first = i;
    while (i < entries.length && entries[i].seq <= seq) {
      if (entries[i].generation === this.generation) entries[i].state = 'acked';
      i++;
    }
    if (i > first) this.dirty.entries = true;
    this.pendingFrom = i;
  }

  private onChannel(body: ChannelEventBody): void {
    const first = !this.channel;
    this.channel = body;
    this.live = true;
    const primary = body.hosts.find((h) => h.role === 'primary');
    if (primary && primary.generation > this.generation) this.generation = primary.generation;
    this.acknowledge(body.ackedSeq ?? body.entriesAcked);
    this.trackRoles(body, first);
    this.addPoint(body, primary);
    this.dirty.channel = true;
  }

  private trackRoles(body: ChannelEventBody, first: boolean): void {
    for (const h of body.hosts) {
      const before = this.roles.get(h.id);
      this.roles.set(h.id, h.role);
      if (before === h.role || first) continue;
      if (h.role === 'dead') this.note({ time: body.time, kind: 'died', text: `${h.id} died (was ${before ?? 'unknown'})`, instruction: h.instructions });
      else if (h.role === 'halted') this.note({ time: body.time, kind: 'halted', text: `${h.id} halted (lost the arbiter)`, instruction: h.instructions });
      else if (h.role === 'backup' && (before === undefined || before === 'spare')) {
        const text = before === 'spare' ? `${h.id}, an idle spare, was made the backup` : `${h.id} joined as the backup (generation ${h.generation})`;
        this.note({ time: body.time, kind: 'attached', text });
      }
    }
  }

  private addPoint(body: ChannelEventBody, primary: HostView | undefined): void {
    const s = this.series;
    const backup = body.hosts.find((h) => h.role === 'backup');
    const counted = backup && !backup.cloning && !backup.starting ? backup : undefined;
    const checkpoint = body.checkpointBytes ?? 0;
    let bandwidth: number | null = null;
    let checkpointRate: number | null = null;
    const last = this.lastBytes;
    if (last && body.time > last.time) {
      // A counter that went down was restarted (a new channel, a new primary): count from zero.
      const since = (now: number, before: number) => (now >= before ? now - before : now);
      const sentCheckpoint = since(checkpoint, last.checkpoint);
      const seconds = (body.time - last.time) / 1000;
      bandwidth = Math.max(0, since(body.bytesSent, last.bytes) - sentCheckpoint) / seconds;
      checkpointRate = sentCheckpoint / seconds;
      this.lastBytes = { time: body.time, bytes: body.bytesSent, checkpoint };
    } else if (last) {
      // Two updates in the same millisecond: no new rate to tell.
      bandwidth = s.bandwidth.at(-1) ?? null;
      checkpointRate = s.checkpoint.at(-1) ?? null;
    } else this.lastBytes = { time: body.time, bytes: body.bytesSent, checkpoint };
    s.time.push(body.time / 1000);
    s.primary.push(primary && !primary.starting ? primary.instructions : null);
    s.backup.push(counted?.instructions ?? null);
    s.lag.push(counted ? Math.max(0, body.lag) : null);
    s.bandwidth.push(bandwidth);
    s.checkpoint.push(checkpointRate);
    if (s.time.length > MAX_POINTS) {
      for (const column of Object.values(s) as unknown[][]) column.splice(0, MAX_POINTS / 10);
    }
  }

  private onOutput(body: OutputEventBody): void {
    const time = body.time ?? this.now;
    const existing = this.outputIndex.get(body.seq);
    this.widest.seq = Math.max(this.widest.seq, body.seq);
    if (body.state === 'held' || !existing || existing.generation !== this.generation) {
      const row: OutputRow = { seq: body.seq, at: body.at, text: body.text, generation: this.generation, state: body.state, heldAt: body.state === 'held' ? time : undefined };
      if (body.state === 'released') Object.assign(row, { releasedAt: time, heldMs: body.heldMs });
      this.outputs.push(row);
      this.outputIndex.set(body.seq, row);
      if (this.outputs.length > MAX_OUTPUTS) {
        for (const dropped of this.outputs.splice(0, MAX_OUTPUTS / 10)) {
          if (this.outputIndex.get(dropped.seq) === dropped) this.outputIndex.delete(dropped.seq);
        }
      }
    } else {
      existing.state = 'released';
      existing.releasedAt = time;
      existing.heldMs = body.heldMs ?? (existing.heldAt !== undefined ? time - existing.heldAt : undefined);
      if (body.text) existing.text = body.text;
    }
    this.dirty.outputs = true;
  }

  private onDivergence(body: DivergenceEventBody): void {
    this.divergences.push(body);
    const pages = body.pages.length ? `${body.pages.length} page${body.pages.length === 1 ? '' : 's'}` : 'state';
    this.note({ time: body.time ?? this.now, kind: 'divergence', text: `Divergence at epoch ${body.epoch}: ${pages} differ`, instruction: body.at });
    this.dirty.divergence = true;
  }

  /** A view as it was decided or acknowledged: it replaces the row of the same number. */
  private onViews(body: ViewsEventBody): void {
    const view = body.view;
    let i = this.views.length;
    while (i > 0 && this.views[i - 1].number > view.number) i--;
    const same = this.views[i - 1]?.number === view.number;
    this.views.splice(same ? i - 1 : i, same ? 1 : 0, view);
    this.spares = body.spares;
    this.dirty.views = true;
  }

  private onFailover(body: FailoverEventBody): void {
    this.failovers.push(body);
    // What the old generation logged and saw no ack for (acks are cumulative: a tail of its rows)
    // was kept if the new primary had it, and lost otherwise.
    let i = this.entries.length - 1;
    while (i >= 0 && this.entries[i].generation >= body.generation) i--;
    const generationStart = i + 1;
    for (; i >= 0 && this.entries[i].state === 'pending' && body.lastSeq !== undefined; i--) {
      this.entries[i].state = this.entries[i].seq <= body.lastSeq ? 'acked' : 'lost';
    }
    // Outputs the dead primary still held never reached a client.
    for (let i = this.outputs.length - 1; i >= 0; i--) {
      const o = this.outputs[i];
      if (o.generation < body.generation && o.state === 'held') o.state = 'dropped';
    }
    this.generation = Math.max(this.generation, body.generation);
    this.pendingFrom = generationStart;
    const lost = body.lastSeq === undefined ? '' : `; it had the log up to #${body.lastSeq}`;
    this.note({ time: body.time, kind: 'failover', text: `Failover: ${body.newPrimary} is the primary of generation ${body.generation} (${body.reason})${lost}` });
    this.dirty.entries = this.dirty.outputs = true;
  }
}
