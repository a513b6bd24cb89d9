// Shared storage (VM-FT §2.4 "shared disk"): the disk FILE outside both hosts, which only the live
// primary touches. A guest's write is an output: it is held (here) until the Output Rule releases it,
// then written to FILE, durably, before anything after it in the log is released. It is written at
// once (into the kernel's cache) and made durable off the guest's thread (fdatasync in libuv's pool),
// so the guest runs on meanwhile; writes released while one fdatasync runs share the next one (a
// group commit). Reads see the writes not yet durable laid over FILE, so the guest reads what it wrote.
// The backup never opens FILE; at go-live the new primary re-issues every write it had not seen released
// (they are idempotent in log order).
import type { DiskCounts, DiskFile, DiskWrite } from '../machine';
import { SECTOR_SIZE } from '../log';

/** Write-to-durable delays kept, the latest ones. */
const KEPT_DELAYS = 1000;

interface Released { write: DiskWrite; heldAt: number; durable: () => void; failed: (error: Error) => void }

export class SharedDisk {
  /** Writes the guest made that are not released yet, oldest first: the Output Rule releases them in order. */
  private held: (DiskWrite & { heldAt: number })[] = [];
  /** Released writes (on FILE, in the kernel's cache) waiting for the next fdatasync. */
  private released: Released[] = [];
  /** Writes not durable on FILE yet (held, released, being written). */
  private unwritten = 0;
  /** Sector -> the latest write not durable yet that covers it. */
  private latest = new Map<number, DiskWrite>();
  /** The fdatasyncs running, while writes wait for them. */
  private writing: Promise<void> | undefined;
  /** How long the latest writes took from the guest's write to durable on FILE (ms), oldest first. */
  readonly durableDelaysMs: number[] = [];
  readonly counts: DiskCounts & { reissued: number } = {
    reads: 0, bytesRead: 0, writes: 0, bytesWritten: 0, reissued: 0,
  };

  constructor(readonly file: DiskFile) {}

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
    return new Promise((durable, failed) => {
      this.released.push({ write, heldAt: write.heldAt, durable, failed });
      this.writing ??= this.writeReleased();
    });
  }

  /** Settles once every write released so far is durable (or has failed). */
  async drained(): Promise<void> {
    while (this.writing) await this.writing;
  }

  /** A new primary writes again what its predecessor may not have written, in log order. */
  reissue(writes: DiskWrite[]): void {
    for (const write of writes) this.file.write(write.offset, write.data);
    this.counts.reissued += writes.length;
  }

  /** One fdatasync for every write released before it starts, until none are left waiting. */
  private async writeReleased(): Promise<void> {
    while (this.released.length) {
      const group = this.released.splice(0);
      try {
        await this.file.syncInBackground();
      } catch (error) {
        for (const { failed } of group) failed(error as Error);
        continue;
      }
      for (const released of group) this.written(released);
    }
    this.writing = undefined;
  }

  private written({ write, heldAt, durable }: Released): void {
    for (let at = 0; at < write.data.length; at += SECTOR_SIZE) {
      const sector = (write.offset + at) / SECTOR_SIZE;
      if (this.latest.get(sector) === write) this.latest.delete(sector);
    }
    this.unwritten--;
    this.counts.writes++;
    this.counts.bytesWritten += write.data.length;
    this.durableDelaysMs.push(performance.now() - heldAt);
    if (this.durableDelaysMs.length > KEPT_DELAYS) this.durableDelaysMs.shift();
    durable();
  }
}
