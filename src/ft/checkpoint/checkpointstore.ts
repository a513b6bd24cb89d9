// The backup's checkpoint store (Remus): it does not run the guest; it holds the latest complete
// checkpoint, as guest RAM and the rest of the machine's state. Chunks are gathered into a
// checkpoint; only a complete one that decodes (its CRC-32 matches) and changes the checkpoint held
// (its base) is applied, all of it or nothing: a checkpoint cut off mid-transfer, damaged, or out of
// turn is refused and the one held before stays as it was (seed 003: "what if primary fails while
// sending state to backup?").
import { CheckpointError, decodeCheckpoint, snapshotOfState, type Checkpoint, type RegionDelta } from './checkpointcodec';
import { pageCount, pageOf } from './dirtypages';
import { PAGE_SIZE } from '../machine';
import { xorRleDecode } from './xorrle';

export interface CheckpointChunk { seq: number; at: number; index: number; total: number; data: Uint8Array }

/** A checkpoint the store holds: its place in its primary's order and log, and what it changed. */
export interface HeldCheckpoint { index: number; seq: number; at: number; pages: number; bytes: number }

export class CheckpointStore {
  /** Guest RAM as of the latest checkpoint applied. */
  ram: Uint8Array = new Uint8Array(0);
  /** The rest of the machine (a snapshot without RAM, as a state region) as of the same checkpoint. */
  private stateRegion: Uint8Array = new Uint8Array(0);
  latest: HeldCheckpoint | undefined;
  applied = 0;
  refused = 0;
  /** Why the last checkpoint refused was refused. */
  lastRefusal: string | undefined;
  private partial: { seq: number; total: number; chunks: Uint8Array[] } | undefined;
  /** The last checkpoint given up incomplete (its connection closed) since the one held: chunks it had of how many. */
  cutOff: { received: number; total: number } | undefined;

  /**
   * The rest of the machine as of the latest checkpoint applied: a snapshot without RAM, copied, since
   * the next checkpoint changes the region in place while a restore may still be reading it.
   */
  get state(): Uint8Array {
    return snapshotOfState(this.stateRegion).slice();
  }

  /** Chunks of a checkpoint being received, of how many (undefined when none is under way). */
  get receiving(): { received: number; total: number } | undefined {
    return this.partial && { received: this.partial.chunks.length, total: this.partial.total };
  }

  /**
   * Takes one chunk; returns the checkpoint it completed and applied, if it did. A CheckpointError
   * when it completed one that is refused (the one held stays as it was).
   */
  receive(chunk: CheckpointChunk): HeldCheckpoint | undefined {
    if (chunk.index === 0) {
      if (this.partial) this.refused++; // the one under way was cut off: a new one starts
      this.partial = { seq: chunk.seq, total: chunk.total, chunks: [] };
    }
    const partial = this.partial;
    const inTurn = partial?.seq === chunk.seq && partial.total === chunk.total && partial.chunks.length === chunk.index;
    if (!partial || !inTurn) {
      this.partial = undefined;
      return this.refuse(`chunk ${chunk.index + 1} of ${chunk.total} of the checkpoint logged at seq ${chunk.seq} came out of turn`);
    }
    partial.chunks.push(chunk.data);
    if (partial.chunks.length < partial.total) return undefined;
    this.partial = undefined;
    const bytes = Buffer.concat(partial.chunks);
    let checkpoint: Checkpoint;
    try {
      checkpoint = decodeCheckpoint(bytes);
    } catch (error) {
      if (error instanceof CheckpointError) return this.refuse(error.message);
      throw error;
    }
    return this.apply(checkpoint, chunk.seq, bytes.length);
  }

  /** A checkpoint under way is given up (its sender is gone): it was never applied, and never will be. */
  discardPartial(): void {
    if (this.partial) this.cutOff = { received: this.partial.chunks.length, total: this.partial.total };
    this.partial = undefined;
  }

  private apply(checkpoint: Checkpoint, seq: number, bytes: number): HeldCheckpoint {
    if (!checkpoint.full && checkpoint.base !== this.latest?.index) {
      return this.refuse(`checkpoint ${checkpoint.index} changes checkpoint ${checkpoint.base}, but this store holds ${this.latest ? `checkpoint ${this.latest.index}` : 'none'}`);
    }
    // Everything is decoded and checked before anything is written: all of it or nothing.
    const ram = this.changes(checkpoint.ram, checkpoint.full ? undefined : this.ram, 'RAM');
    // The state region changes size now and then (the primary then sends all of it).
    const sameSize = checkpoint.state.size === this.stateRegion.length;
    const state = this.changes(checkpoint.state, checkpoint.full || !sameSize ? undefined : this.stateRegion, 'machine state');
    this.ram = ram.apply();
    this.stateRegion = state.apply();
    this.latest = { index: checkpoint.index, seq, at: checkpoint.at, pages: checkpoint.ram.pages.length, bytes };
    this.applied++;
    this.cutOff = undefined;
    return this.latest;
  }

  /** The region's new pages, checked; `apply` writes them (into a new zeroed region when there is no `current`). */
  private changes(delta: RegionDelta, current: Uint8Array | undefined, name: string): { apply: () => Uint8Array } {
    if (current && current.length !== delta.size) this.refuse(`${name} is ${delta.size} bytes in the checkpoint, ${current.length} in the store`);
    const base = current ?? new Uint8Array(delta.size);
    const pages = delta.pages.map(({ page, encoding, data }) => {
      if (page >= pageCount(delta.size)) this.refuse(`${name} page ${page} is past its ${delta.size} bytes`);
      const previous = pageOf(base, page);
      const contents = encoding === 'raw' ? data : this.decoded(data, previous, `${name} page ${page}`);
      if (contents.length !== previous.length) this.refuse(`${name} page ${page} has ${contents.length} bytes, not ${previous.length}`);
      return { page, contents };
    });
    return {
      apply: () => {
        for (const { page, contents } of pages) base.set(contents, page * PAGE_SIZE);
        return base;
      },
    };
  }

  private decoded(data: Uint8Array, previous: Uint8Array, what: string): Uint8Array {
    try {
      return xorRleDecode(data, previous);
    } catch (error) {
      return this.refuse(`${what}: ${(error as Error).message}`);
    }
  }

  private refuse(reason: string): never {
    this.refused++;
    this.lastRefusal = reason;
    throw new CheckpointError(reason);
  }
}
