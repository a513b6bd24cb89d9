// The primary's side of checkpoint replication (Remus): when a checkpoint is due, and taking one.
// A checkpoint is taken at an epoch boundary, where the machine is canonical (its JIT emptied) and
// every page is hashed: the RAM pages whose hashes changed since the last checkpoint, and the pages
// of the rest of the machine's state that changed, are all it carries; a new backup gets every page
// that is not zero. With --checkpoint-instructions N every epoch (every N instructions) is one; with
// --checkpoint-ms N the primary makes an epoch at the first boundary N ms after the last checkpoint.
// The guest is paused only while the checkpoint is captured and encoded; sending it and waiting for
// the ack overlap the next epoch, whose outputs the Output Rule holds meanwhile.
import type { Machine } from '../machine';
import { encodeCheckpoint, stateRegion, type PageDelta, type RegionDelta } from './checkpointcodec';
import { dirtyByHash, nonZeroPages, pageOf, ShadowRegion } from './dirtypages';
import { xorRleEncode } from './xorrle';

export type ReplicationMode = 'replay' | 'checkpoint';
export const REPLICATION_MODES: readonly ReplicationMode[] = ['replay', 'checkpoint'];

export interface CheckpointPolicy {
  /** A checkpoint every this many ms (an epoch is made for it), or else... */
  intervalMs?: number;
  /** ...at every epoch, the epoch length being this many instructions. */
  instructions?: number;
  /** XOR each changed page with its previous contents and run-length encode it. */
  compress: boolean;
}

/** Remus checkpoints up to 40 times a second; this is a little longer, for the emulator's slower pause. */
export const DEFAULT_CHECKPOINT_MS = 50;
/** Checkpoints sent but not acknowledged before the primary stops running the guest. */
export const MAX_CHECKPOINTS_IN_FLIGHT = 2;
/** Figures kept per checkpoint, the latest ones. */
const KEPT = 1000;

/** One checkpoint taken: its number, what it carried, how long the guest paused, when the backup acked it. */
export interface CheckpointRecord {
  index: number;
  full: boolean;
  /** RAM pages changed since the checkpoint before. */
  dirtyPages: number;
  bytes: number;
  pauseMs: number;
  /** Sent to acknowledged (ms); none while it waits for its ack, or if its backup went away first. */
  ackDelayMs?: number;
}

export interface CheckpointStats {
  taken: number;
  full: number;
  acknowledged: number;
  bytes: number;
  /** Bytes XOR+RLE saved against sending the changed pages whole. */
  bytesSaved: number;
  /** The latest checkpoints, oldest first. */
  recent: CheckpointRecord[];
}

/** A checkpoint's outputs: those held until its ack (`checkpoint` undefined: the epoch under way, not taken yet). */
export interface HeldByCheckpoint { checkpoint?: number; outputs: number }

export interface Captured { index: number; full: boolean; bytes: Uint8Array; dirtyPages: number; pauseMs: number }

export class Checkpointer {
  readonly stats: CheckpointStats = {
    taken: 0, full: 0, acknowledged: 0, bytes: 0, bytesSaved: 0, recent: [],
  };
  private index = 0;
  private fullWanted = true;
  private lastHashes: BigUint64Array | undefined;
  private lastTakenMs = performance.now();
  private readonly ramShadow = new ShadowRegion();
  private readonly stateShadow = new ShadowRegion();
  private inFlight: { seq: number; index: number; sentAt: number }[] = [];

  constructor(readonly policy: CheckpointPolicy) {}

  /** A new backup (or one that lost track): the next checkpoint is a full one, from nothing. */
  restart(): void {
    this.fullWanted = true;
    this.lastHashes = undefined;
    this.ramShadow.reset();
    this.stateShadow.reset();
    this.inFlight = [];
  }

  get wantsFull(): boolean {
    return this.fullWanted;
  }

  /** Time-based checkpoints: an epoch should be made now for one. */
  get wantsEpoch(): boolean {
    return this.policy.intervalMs !== undefined && this.due();
  }

  /** At an epoch: whether it is a checkpoint. */
  due(): boolean {
    if (this.fullWanted || this.policy.intervalMs === undefined) return true;
    return performance.now() - this.lastTakenMs >= this.policy.intervalMs;
  }

  /** The guest may run on: few enough checkpoints wait for their acks (a slow backup slows the primary). */
  get mayRun(): boolean {
    return this.inFlight.length < MAX_CHECKPOINTS_IN_FLIGHT;
  }

  /** Checkpoints sent and not yet acknowledged. */
  get unacknowledged(): number {
    return this.inFlight.length;
  }

  /** Captures the machine at this boundary; `hashes`: its RAM page hashes if an epoch just computed them. */
  capture(machine: Machine, hashes: BigUint64Array = machine.pageHashes()): Captured {
    const started = performance.now();
    const full = this.fullWanted;
    const ramPages = full ? nonZeroPages(hashes) : dirtyByHash(this.lastHashes, hashes);
    const state = stateRegion(machine.snapshot({ ram: false }));
    const statePages = this.stateShadow.dirty(state);
    const index = ++this.index;
    // A full checkpoint goes raw: XOR against nothing saves only zero runs, and encoding all of RAM
    // would pause the guest for longer than a detection timeout.
    const compress = this.policy.compress && !full;
    const ram = this.region(machine.memory, ramPages, this.ramShadow, compress);
    const bytes = encodeCheckpoint({
      index, base: full ? 0 : index - 1, at: machine.instructions, full, compressed: compress,
      ram, state: this.region(state, statePages, this.stateShadow, compress),
    });
    if (this.policy.compress) this.ramShadow.commit(machine.memory, ramPages);
    this.stateShadow.commit(state, statePages);
    this.lastHashes = hashes;
    this.fullWanted = false;
    this.lastTakenMs = performance.now();
    const pauseMs = this.lastTakenMs - started;
    this.note({ index, full, dirtyPages: ramPages.length, bytes: bytes.length, pauseMs });
    return { index, full, bytes, dirtyPages: ramPages.length, pauseMs };
  }

  /** The pages of a region, each XOR+RLE-encoded against the shadow when compressing and it is smaller so. */
  private region(bytes: Uint8Array, pages: number[], shadow: ShadowRegion, compress: boolean): RegionDelta {
    const deltas = pages.map((page): PageDelta => {
      const data = pageOf(bytes, page);
      if (!compress) return { page, encoding: 'raw', data };
      const encoded = xorRleEncode(data, shadow.previous(page, data.length));
      if (encoded.length >= data.length) return { page, encoding: 'raw', data };
      this.stats.bytesSaved += data.length - encoded.length;
      return { page, encoding: 'xor-rle', data: encoded };
    });
    return { size: bytes.length, pages: deltas };
  }

  /** The checkpoint just captured is on its way, under log entry `seq`. */
  sent(seq: number): void {
    this.inFlight.push({ seq, index: this.index, sentAt: performance.now() });
  }

  /** The backup holds every checkpoint up to the one logged at `seq`. */
  acknowledged(seq: number): void {
    const now = performance.now();
    while (this.inFlight.length && this.inFlight[0].seq <= seq) {
      const { index, sentAt } = this.inFlight.shift()!;
      const record = this.stats.recent.find((r) => r.index === index);
      if (record) record.ackDelayMs = now - sentAt;
      this.stats.acknowledged++;
    }
  }

  /** Outputs logged at `seqs` (in order), by the checkpoint whose ack releases each: the first sent after it. */
  holding(seqs: number[]): HeldByCheckpoint[] {
    const groups: HeldByCheckpoint[] = [];
    for (const seq of seqs) {
      const checkpoint = this.inFlight.find((c) => c.seq > seq)?.index;
      const last = groups.at(-1);
      if (last && last.checkpoint === checkpoint) last.outputs++;
      else groups.push({ ...(checkpoint === undefined ? {} : { checkpoint }), outputs: 1 });
    }
    return groups;
  }

  private note(record: CheckpointRecord): void {
    this.stats.taken++;
    if (record.full) this.stats.full++;
    this.stats.bytes += record.bytes;
    this.stats.recent.push(record);
    if (this.stats.recent.length > KEPT) this.stats.recent.shift();
  }
}
