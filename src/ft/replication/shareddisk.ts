// Shared storage (VM-FT §2.4 "shared disk"): the disk FILE outside both hosts, which only the live
// primary touches. A guest's write is an output: it is held (here) until the Output Rule releases it,
// then written to FILE, durably, before anything after it in the log is released. It is written at
// once (into the kernel's cache) and made durable off the guest's thread by a group commit
// (groupcommit.ts), so the guest runs on meanwhile. Reads see the writes not yet durable laid over
// FILE, so the guest reads what it wrote.
// The backup never opens FILE; at go-live the new primary re-issues every write it had not seen released
// (they are idempotent in log order).
import type { DiskCounts, DiskFile, DiskWrite } from '../machine';
import { decodeDiskIo, SECTOR_SIZE, type OutputEntry } from '../log';
import { GroupCommit } from './groupcommit';

/**
 * Write-to-durable delays kept, the latest ones: they go to the cluster with every statistics poll (10 a second),
 * so a long list costs the primary's main thread (1000 were about 2% of it on a disk-bound guest, profiled).
 */
const KEPT_DELAYS = 200;

type Held = DiskWrite & { heldAt: number };

export class SharedDisk {
  /** Writes the guest made that are not released yet, oldest first: the Output Rule releases them in order. */
  private held: Held[] = [];
  /** Writes not durable on FILE yet (held, released, being written). */
  private unwritten = 0;
  /** Sector -> the latest write not durable yet that covers it. */
  private latest = new Map<number, DiskWrite>();
  private readonly commit: GroupCommit;
  /** How long the latest writes took from the guest's write to durable on FILE (ms), oldest first. */
  readonly durableDelaysMs: number[] = [];
  readonly counts: DiskCounts & { reissued: number } = {
    reads: 0, bytesRead: 0, writes: 0, bytesWritten: 0, reissued: 0,
  };

  constructor(readonly file: DiskFile) {
    this.commit = new GroupCommit(file);
  }

  /** fdatasyncs made on FILE so far. */
  get syncs(): number {
    return this.commit.syncs;
  }

  /** Writes the guest made that are not durable on FILE yet. */
  get holding(): number {
    return this.unwritten;
  }

  /** FILE with the writes not durable yet over it. */
  read(offset: number, length: number): Uint8Array {
    const data = this.file.read(offset, length);
    for (let at = 0; at < length; at += SECTOR_SIZE) {
      const sector = (offset + at) / SECTOR_SIZE;
      const write = this.latest.get(sector);
      const from = sector * SECTOR_SIZE - (write?.offset ?? 0);
      if (write) data.set(write.data.subarray(from, from + SECTOR_SIZE), at);
    }
    this.counts.reads++;
    this.counts.bytesRead += length;
    return data;
  }

  hold(write: DiskWrite): void {
    const held = { ...write, heldAt: performance.now() };
    this.held.push(held);
    this.unwritten++;
    for (let at = 0; at < write.data.length; at += SECTOR_SIZE) {
      this.latest.set((write.offset + at) / SECTOR_SIZE, held);
    }
  }

  /**
   * The Output Rule released the oldest held write: it goes to FILE now; the promise settles once it is
   * durable.
   */
  releaseOldest(): Promise<void> {
    const write = this.held.shift();
    if (!write) throw new Error('a disk write was released that was never held');
    this.file.writeUnsynced(write.offset, write.data);
    return this.commit.sync().then(() => this.written(write));
  }

  /** Settles once every write released so far is durable (or has failed). */
  drained(): Promise<void> {
    return this.commit.drained();
  }

  /** A new primary writes again what its predecessor may not have written (their output markers), in log order. */
  reissue(markers: OutputEntry[]): { reissuedWrites: number; reissuedBytes: number } {
    let bytes = 0;
    for (const marker of markers) {
      const { offset, data } = decodeDiskIo(marker.data);
      this.file.write(offset, data!);
      bytes += data!.length;
    }
    this.counts.reissued += markers.length;
    return { reissuedWrites: markers.length, reissuedBytes: bytes };
  }

  private written(write: Held): void {
    for (let at = 0; at < write.data.length; at += SECTOR_SIZE) {
      const sector = (write.offset + at) / SECTOR_SIZE;
      if (this.latest.get(sector) === write) this.latest.delete(sector);
    }
    this.unwritten--;
    this.counts.writes++;
    this.counts.bytesWritten += write.data.length;
    // To the microsecond: a shorter line in every statistics report.
    this.durableDelaysMs.push(Math.round((performance.now() - write.heldAt) * 1000) / 1000);
    if (this.durableDelaysMs.length > KEPT_DELAYS) this.durableDelaysMs.shift();
  }
}
