// What the logging-channel panel shows of a replayed log file: the events a live pair streams
// (src/adapter/protocol.ts), made from the file at once, so a replay's panel has the recording's
// entries, its outputs as the Output Rule released them, its failovers and charts over its span.
// Times are the recording's guest time (the clock the guest read): a file keeps no wall-clock times.
import { entryNote, outputNote } from '../ft/debug';
import type { LogEntry, LogMeta } from '../ft/log';
import { instructionsPerMsOf } from '../ft/commands';
import type { CustomEvent } from './runtime';
import type { ChannelEventBody, EntryView, FailoverEventBody } from './protocol';

/** Entries per `lockstep/entries` event, as a live pair sends them. */
const ENTRIES_PER_EVENT = 200;
/** Chart points over the whole recording, at most. */
const MAX_POINTS = 500;
/** The host id a recording's primary is shown under (a file does not say which host that was). */
export const RECORDING_HOST = 'recording';

type Control = Extract<LogEntry, { kind: 'control' }>;

/**
 * The guest time (ms) at instruction count `at`: with the virtual clock the count itself, with the
 * host clock the last clock reading logged at or before it, from the first one.
 */
export function recordingClock(meta: LogMeta, entries: readonly LogEntry[]): (at: number) => number {
  if (meta.clock === 'virtual') {
    const rate = instructionsPerMsOf(meta);
    return (at) => at / rate;
  }
  const readings = entries.filter((e) => e.kind === 'nondet' && e.source === 'clock') as { at: number; value: number }[];
  const zero = readings[0]?.value ?? 0;
  return (at) => {
    let [low, high] = [0, readings.length];
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (readings[mid].at <= at) low = mid + 1;
      else high = mid;
    }
    return low === 0 ? 0 : readings[low - 1].value - zero;
  };
}

/** The panel events of a recording, in the order a live pair would have sent them. */
export function recordingEvents(meta: LogMeta, entries: readonly LogEntry[]): CustomEvent[] {
  const time = recordingClock(meta, entries);
  const events: CustomEvent[] = [];
  const views: EntryView[] = entries.map((e) => ({ ...entryNote(e), acked: true }));
  let generation = 1;
  let bytes = 0;
  let released = 0;
  const stride = Math.max(1, Math.ceil(entries.filter(isPoint).length / MAX_POINTS));
  let points = 0;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    bytes += views[i].size;
    if (i % ENTRIES_PER_EVENT === 0) {
      events.push({ event: 'lockstep/entries', body: { entries: views.slice(i, i + ENTRIES_PER_EVENT) } });
    }
    if (entry.kind === 'output') {
      released++;
      events.push({ event: 'lockstep/output', body: { ...outputNote(entry, 'released'), time: time(entry.at) } });
    }
    if (entry.kind === 'control' && entry.op === 'go-live') {
      generation++;
      events.push({ event: 'lockstep/failover', body: failover(entry, generation, time(entry.at)) });
    }
    const due = isPoint(entry) && points++ % stride === 0;
    if (due || i === entries.length - 1) {
      events.push({ event: 'lockstep/channel', body: point(entry, i + 1, bytes, released, generation, time(entry.at)) });
    }
  }
  return events;
}

/** Epochs (and changes of hands) are where the charts get a point. */
function isPoint(entry: LogEntry): boolean {
  return entry.kind === 'epoch' || entry.kind === 'control';
}

function point(
  entry: LogEntry,
  logged: number,
  bytesSent: number,
  outputsReleased: number,
  generation: number,
  time: number,
): ChannelEventBody {
  return {
    time,
    hosts: [{ id: RECORDING_HOST, role: 'primary', generation, instructions: entry.at }],
    lag: 0,
    entriesLogged: logged,
    entriesAcked: logged,
    ackedSeq: entry.seq,
    bytesSent,
    outputsHeld: 0,
    outputsReleased,
  };
}

/** A go-live entry: the host that won the arbiter, and why (its detail, JSON when the recorder wrote it). */
function failover(entry: Control, generation: number, time: number): FailoverEventBody {
  let detail: { host?: unknown; reason?: unknown } = {};
  try {
    detail = JSON.parse(entry.detail) as typeof detail;
  } catch {
    detail = { reason: entry.detail };
  }
  return {
    generation,
    newPrimary: typeof detail.host === 'string' ? detail.host : `the primary of generation ${generation}`,
    reason: typeof detail.reason === 'string' && detail.reason ? detail.reason : 'went live',
    time,
    lastSeq: entry.seq - 1,
  };
}
