// What a host streams to the debugger's panel while it runs: batches of the entries its primary
// logged and of the outputs the Output Rule held and released (`debug-events` reports), and the
// notes the panel shows for an entry or an output.
import type { EntryNote, HostReport, OutputNote } from '../cluster';
import { describeEntry, encodeEntry, LogEntry, renderDeviceData } from '../log';
import type { OutputRule } from '../replication';

const EVENTS_INTERVAL_MS = 250;
const MAX_EVENTS_PER_BATCH = 200;
const OUTPUT_TEXT_BYTES = 200;

export type OutputEntry = Extract<LogEntry, { kind: 'output' }>;

export function entryNote(entry: LogEntry): EntryNote {
  return {
    seq: entry.seq,
    at: entry.at,
    kind: entry.kind,
    size: encodeEntry(entry).length,
    text: describeEntry(entry),
  };
}

export function outputNote(output: OutputEntry, state: OutputNote['state'], heldMs?: number): OutputNote {
  const text = renderDeviceData(output.device, output.data, (bytes) => Buffer.from(bytes.subarray(0, OUTPUT_TEXT_BYTES)).toString('latin1'));
  return {
    seq: output.seq,
    at: output.at,
    text,
    state,
    ...(heldMs === undefined ? {} : { heldMs: Math.round(heldMs) }),
  };
}

/** Where the stream's reports come from. */
export interface PanelSource {
  isPrimary(): boolean;
  /** The primary's Output Rule (a new one after a failover). */
  outputRule(): OutputRule | undefined;
  /** Highest seq acknowledged. */
  acked?: () => number;
}

/**
 * A primary's new entries and outputs for the panel, at a modest rate (four batches a second at
 * most, each with the last MAX_EVENTS_PER_BATCH of either). A backup reports none.
 */
export class PanelStream {
  private reported = 0;
  /** The Output Rule whose releases are being followed, and how many of its releases were reported. */
  private rule: OutputRule | undefined;
  private releasesSeen = 0;
  /** Its outputs not yet released, in seq order (the order it releases them in); those reported held. */
  private unreleased: OutputEntry[] = [];
  private readonly announced = new Set<number>();
  private readonly timer: NodeJS.Timeout;

  /** Streams for host `id` what is appended to `log` (the log as this host has it). */
  constructor(
    private readonly id: string,
    private readonly log: readonly LogEntry[],
    private readonly source: PanelSource,
    private readonly send: (report: HostReport) => void,
  ) {
    this.timer = setInterval(() => this.reportEvents(), EVENTS_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private reportEvents(): void {
    if (!this.source.isPrimary()) {
      this.reported = this.log.length;
      return;
    }
    const fresh = this.log.slice(this.reported);
    this.reported = this.log.length;
    const outputs = this.outputNotes(fresh);
    if (!fresh.length && !outputs.length) return;
    const entries = fresh.slice(-MAX_EVENTS_PER_BATCH).map(entryNote);
    this.send({ type: 'debug-events', id: this.id, entries, skipped: fresh.length - entries.length, acked: this.source.acked?.() ?? 0, outputs: outputs.slice(-MAX_EVENTS_PER_BATCH) });
  }

  /**
   * Outputs held and released since the last batch. The rule releases its outputs in seq order and
   * keeps each one's delay in that order, so the k-th release is the k-th output it was given.
   */
  private outputNotes(fresh: LogEntry[]): OutputNote[] {
    const rule = this.source.outputRule();
    if (rule !== this.rule) {
      this.rule = rule;
      this.releasesSeen = 0;
      this.unreleased = [];
      this.announced.clear();
    }
    if (!rule) return [];
    this.unreleased.push(...fresh.filter((e): e is OutputEntry => e.kind === 'output'));
    const notes: OutputNote[] = [];
    const released = this.unreleased.splice(0, rule.released - this.releasesSeen);
    released.forEach((entry, i) => {
      const heldMs = rule.delayOf(this.releasesSeen + i);
      if (heldMs !== undefined && heldMs >= 1 && !this.announced.has(entry.seq)) notes.push(outputNote(entry, 'held'));
      this.announced.delete(entry.seq);
      notes.push(outputNote(entry, 'released', heldMs));
    });
    this.releasesSeen = rule.released;
    for (const entry of this.unreleased.filter((e) => !this.announced.has(e.seq))) {
      this.announced.add(entry.seq);
      notes.push(outputNote(entry, 'held'));
    }
    return notes;
  }
}
