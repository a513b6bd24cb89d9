// A replay's disk in local mode (docs/log-format.md, "Disks"): the log has no read data, so the replay
// reads the disk as it was when the run started, FILE, and keeps the guest's writes here in memory,
// laid over FILE, so later reads see them. A replay never changes FILE.
import type { DiskFile } from './diskfile';
import type { DiskStore } from './disk';
import { SECTOR_SIZE } from '../log';

export class DiskOverlay implements DiskStore {
  /** Sector number -> what the guest wrote there last. */
  private readonly written = new Map<number, Uint8Array>();

  constructor(private readonly base: DiskFile) {}

  get size(): number {
    return this.base.size;
  }

  read(offset: number, length: number): Uint8Array {
    const data = this.base.read(offset, length);
    for (let at = 0; at < length; at += SECTOR_SIZE) {
      const sector = this.written.get((offset + at) / SECTOR_SIZE);
      if (sector) data.set(sector, at);
    }
    return data;
  }

  write(offset: number, data: Uint8Array): void {
    for (let at = 0; at < data.length; at += SECTOR_SIZE) {
      this.written.set((offset + at) / SECTOR_SIZE, data.slice(at, at + SECTOR_SIZE));
    }
  }
}
