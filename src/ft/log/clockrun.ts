// Clock runs: consecutive `nondet clock` entries in one frame (docs/log-format.md). Under the host
// clock every slice end logs a reading; a frame each would cost 38 bytes where the reading carries a
// few bytes of news. A run is a codec matter only: it decodes back into the same NondetEntry values.
import type { LogEntry, NondetEntry } from './log';

/** A clock run's payload that does not decode; the frame decoder (codec.ts) adds where. */
export class ClockRunError extends Error {}

/** Frame kind code of a clock run; not a FrameKind: the decoder hands out the entries it holds. */
export const CLOCK_RUN_CODE = 0x07;
/** Clock readings travel in runs as whole microseconds. */
export const CLOCK_UNITS_PER_MS = 1000;
/** Most readings one run frame holds (each at most 2 varints of 8 bytes: far below the payload limit). */
export const MAX_CLOCK_RUN = 4096;
const MAX_VARINT_BYTES = 8;
/** Largest value a run carries (about 71 years of microseconds), so a zigzag change stays a safe integer. */
const MAX_CLOCK_UNITS = 2 ** 51;

/** A reading's value in whole microseconds, if it is exactly one (and a run can carry it); else undefined. */
export function clockUnits(value: number): number | undefined {
  const units = Math.round(value * CLOCK_UNITS_PER_MS);
  return units >= 0 && units <= MAX_CLOCK_UNITS && units / CLOCK_UNITS_PER_MS === value ? units : undefined;
}

/** Whether an entry can go into a clock run (anything else, a bad one included, is encoded on its own). */
export function isRunnableClock(e: LogEntry): e is NondetEntry {
  return e.kind === 'nondet' && e.source === 'clock' && clockUnits(e.value) !== undefined &&
    Number.isSafeInteger(e.seq) && e.seq >= 1 && Number.isSafeInteger(e.at) && e.at >= 0;
}

function pushVarint(out: number[], n: number): void {
  for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n % 0x80) | 0x80);
  out.push(n);
}

const zigzag = (n: number): number => (n < 0 ? -2 * n - 1 : 2 * n);
const unzigzag = (n: number): number => (n % 2 ? -(n + 1) / 2 : n / 2);

/**
 * The payload of a clock run frame: consecutive clock readings (seq n, n+1, ...; `at` never going back; values whole
 * microseconds, see isRunnableClock). Each reading: the instructions since the one
 * before (the first: since the frame's `at`, so 0), then its change from the reading before in
 * microseconds, zigzag (the first: from 0), both unsigned LEB128 varints.
 */
export function clockRunPayload(entries: readonly NondetEntry[]): Uint8Array {
  if (!entries.length || entries.length > MAX_CLOCK_RUN) throw new RangeError(`a clock run holds 1 to ${MAX_CLOCK_RUN} readings, not ${entries.length}`);
  const { seq, at } = entries[0];
  const out: number[] = [];
  let lastAt = at;
  let lastUnits = 0;
  entries.forEach((e, i) => {
    const units = isRunnableClock(e) ? clockUnits(e.value) : undefined;
    if (units === undefined) throw new RangeError(`entry ${e.seq} is not a clock reading in whole microseconds`);
    if (e.seq !== seq + i || e.at < lastAt || !Number.isSafeInteger(e.at)) throw new RangeError(`entry ${e.seq} does not follow entry ${seq + i - 1} in a clock run`);
    pushVarint(out, e.at - lastAt);
    pushVarint(out, zigzag(units - lastUnits));
    lastAt = e.at;
    lastUnits = units;
  });
  return Uint8Array.from(out);
}

/** Reads the varints of a clock run's payload (see clockRunPayload) back into entries. */
export function decodeClockRun(p: Uint8Array, seq: number, at: number): NondetEntry[] {
  if (!p.length) throw new ClockRunError('a clock run of no readings');
  const entries: NondetEntry[] = [];
  let offset = 0;
  const varint = (): number => {
    let n = 0;
    for (let i = 0, scale = 1; i < MAX_VARINT_BYTES; i++, scale *= 0x80) {
      if (offset >= p.length) throw new ClockRunError('a reading cut short');
      const byte = p[offset++];
      n += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (!Number.isSafeInteger(n)) break;
        return n;
      }
    }
    throw new ClockRunError(`a varint at payload byte ${offset} exceeds 2^53-1`);
  };
  let units = 0;
  while (offset < p.length) {
    at += varint();
    units += unzigzag(varint());
    if (!Number.isSafeInteger(at) || units < 0 || units > MAX_CLOCK_UNITS) throw new ClockRunError(`reading ${entries.length + 1} out of range`);
    entries.push({ kind: 'nondet', seq: seq + entries.length, at, source: 'clock', value: units / CLOCK_UNITS_PER_MS });
  }
  return entries;
}
