// Shared storage (VM-FT §2.4 "shared disk"): the disk FILE outside both hosts, which only the live
// primary touches. A guest's write is an output: it is held (here) until the Output Rule releases it,
// then written to FILE, durably, before anything after it in the log is released. Reads see the held
// writes laid over FILE, so the guest reads what it wrote. The backup never opens FILE; at go-live the
// new primary re-issues every write it had not seen released (they are idempotent in log order).
import type { DiskCounts, DiskFile, DiskWrite } from '../machine';
import { SECTOR_SIZE } from '../log';

export class SharedDisk {
  /** Writes the guest made that are not on FILE yet, oldest first: the Output Rule releases them in order. */
  private held: DiskWrite[] = [];
  /** Sector -> the latest held write that covers it. */
  private latest = new Map<number, DiskWrite>();
  readonly counts: DiskCounts & { reissued: number } = {
    reads: 0, bytesRead: 0, writes: 0, bytesWritten: 0, reissued: 0,
  };

  constructor(readonly file: DiskFile) {}

  get holding(): number {
    return this.held.length;
  }

  /** FILE with the held writes over it. */
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
    this.held.push(write);
    for (let at = 0; at < write.data.length; at += SECTOR_SIZE) {
      this.latest.set((write.offset + at) / SECTOR_SIZE, write);
    }
  }

  /** The Output Rule released the oldest held write: it goes to FILE, durably. */
  releaseOldest(): void {
    const write = this.held.shift();
    if (!write) throw new Error('a disk write was released that was never held');
    this.file.write(write.offset, write.data);
    for (let at = 0; at < write.data.length; at += SECTOR_SIZE) {
      const sector = (write.offset + at) / SECTOR_SIZE;
      if (this.latest.get(sector) === write) this.latest.delete(sector);
    }
    this.counts.writes++;
    this.counts.bytesWritten += write.data.length;
  }

  /** A new primary writes again what its predecessor may not have written, in log order. */
  reissue(writes: DiskWrite[]): void {
    for (const write of writes) this.file.write(write.offset, write.data);
    this.counts.reissued += writes.length;
  }
}
