// The logging channel's fault injector: what happens to each frame a side sends (dropped, written
// twice, a byte flipped, delayed), decided by a seeded PRNG so a run's faults can be had again.
// docs/protocol.md lists the knobs; the cluster's fault kinds (src/ft/cluster/faults.ts) set them.

import { SeededRandom } from '../random';

export interface FaultSettings {
  /** Probability that a sent frame is silently dropped. */
  dropRate: number;
  /** Probability that a sent frame is written twice. */
  duplicateRate: number;
  /** Probability that one byte of a sent frame is flipped (the receiver must reject it). */
  corruptRate: number;
  /** Every sent frame waits this long before it is written (order is kept). */
  delayMs: number;
  /** PRNG seed: the same seed and the same sequence of sends give the same fates. */
  seed: number;
  /**
   * Log entries (by seq) to drop the next time each is sent, whatever the rates: a seq listed twice
   * drops the entry's first two sends (the original and a resend). Only log entries match (an ack
   * or a heartbeat carries a seq too). Unlike the other settings these add up: setFaults() arms
   * more, and a drop made is gone, so one armed drop drops one send.
   */
  dropEntries: readonly number[];
}

type Rates = Omit<FaultSettings, 'dropEntries'>;
const NO_RATES: Readonly<Rates> = { dropRate: 0, duplicateRate: 0, corruptRate: 0, delayMs: 0, seed: 1 };
export const NO_FAULTS: Readonly<FaultSettings> = { ...NO_RATES, dropEntries: [] };

/** What happens to one sent frame. */
export interface FrameFate {
  drop: boolean;
  duplicate: boolean;
  /** Byte index to flip, if corrupted. Never inside the length field (see corruptIndex). */
  corruptAt?: number;
  /** Non-zero XOR mask for the flipped byte. */
  corruptMask?: number;
}

// The length field (bytes 5..8) is left alone: a longer length would make the receiver wait for
// bytes that never come instead of rejecting this frame now.
const LENGTH_FIELD_START = 5;
const LENGTH_FIELD_BYTES = 4;

function corruptIndex(r: number, frameLength: number): number {
  const i = Math.floor(r * (frameLength - LENGTH_FIELD_BYTES));
  return i < LENGTH_FIELD_START ? i : i + LENGTH_FIELD_BYTES;
}

/** Log entries whose sends are counted (for the fates of resends): the most recent ones. */
const COUNTED_ENTRIES = 4096;

/**
 * Decides the fate of each sent frame. Draws the same number of values per frame, whatever the rates
 * and the armed entry drops, so these never shift the random fates of other frames. A log entry's
 * fate comes from a stream of its own (the seed, its seq, how often it was sent before), so with a
 * given seed the same entries meet the same faults however heartbeats and acks fall between them.
 */
export class FaultInjector {
  private rng = new SeededRandom(NO_RATES.seed);
  private settings: Rates = { ...NO_RATES };
  /** dropEntries as a multiset: seq → sends of it still to drop. */
  private readonly entryDrops = new Map<number, number>();
  /** Sends so far of each recent log entry. */
  private readonly entrySends = new Map<number, number>();

  constructor(settings: Partial<FaultSettings> = {}) {
    this.update(settings);
  }

  get current(): Readonly<FaultSettings> {
    const dropEntries = [...this.entryDrops].flatMap(([seq, times]) => Array<number>(times).fill(seq));
    return { ...this.settings, dropEntries };
  }

  /** Read per frame sent: cheaper than `current`. */
  get delayMs(): number {
    return this.settings.delayMs;
  }

  /**
   * Changes settings; a given seed restarts the PRNG from that seed; given dropEntries are armed on top of those
   * pending.
   */
  update({ dropEntries = [], ...settings }: Partial<FaultSettings>): void {
    this.settings = { ...this.settings, ...settings };
    if (settings.seed !== undefined) this.rng = new SeededRandom(settings.seed);
    for (const seq of dropEntries) this.entryDrops.set(seq, (this.entryDrops.get(seq) ?? 0) + 1);
  }

  /** `entrySeq`: the seq of the log entry the frame carries, if it carries one. */
  decide(frameLength: number, entrySeq?: number): FrameFate {
    const rng = entrySeq === undefined ? this.rng : this.entryRandom(entrySeq);
    const [d, u, c, position, mask] = [rng.next(), rng.next(), rng.next(), rng.next(), rng.next()];
    // Used up even when the rate drops this send as well: n armed drops of an entry drop its first n sends.
    const armed = entrySeq !== undefined && this.takeEntryDrop(entrySeq);
    const fate: FrameFate = { drop: d < this.settings.dropRate || armed, duplicate: u < this.settings.duplicateRate };
    if (c < this.settings.corruptRate) {
      fate.corruptAt = corruptIndex(position, frameLength);
      fate.corruptMask = 1 + Math.floor(mask * 255);
    }
    return fate;
  }

  private entryRandom(seq: number): SeededRandom {
    const sends = (this.entrySends.get(seq) ?? 0) + 1;
    this.entrySends.set(seq, sends);
    this.entrySends.delete(seq - COUNTED_ENTRIES);
    const seqMix = Math.imul(this.settings.seed ^ Math.imul(seq, 0x9e3779b1), 0x85ebca6b);
    return new SeededRandom(seqMix ^ Math.imul(sends, 0xc2b2ae35));
  }

  private takeEntryDrop(seq: number): boolean {
    const left = this.entryDrops.get(seq);
    if (left === undefined) return false;
    if (left > 1) this.entryDrops.set(seq, left - 1);
    else this.entryDrops.delete(seq);
    return true;
  }
}

/** A copy of `bytes` with the byte at `index` XORed with `mask` (a FrameFate's corruption). */
export function corruptFrame(bytes: Uint8Array, index: number, mask: number): Uint8Array {
  const copy = bytes.slice();
  copy[index] ^= mask;
  return copy;
}
