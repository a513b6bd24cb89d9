// A machine's IDE disk as the machine drives it: the GuestDisk v86 reads and writes (disk.ts), where
// this host reads the disk (none: reads come from the log only), and what the end of a slice does
// with the guest's disk I/O. The machine calls it at its boundaries; nothing here runs guest code.
import { DiskOptions, DiskReader, DiskWrite, GuestDisk } from './disk';
import type { Nondeterminism } from './nondet';
import { DiskRequest, SECTOR_SIZE } from '../log';

/** Where the end of a slice reports the guest's disk I/O (the machine's events). */
export interface DiskIoEvents {
  write: (write: DiskWrite) => void;
  read: (request: DiskRequest) => void;
}

export class AttachedDisk {
  readonly guest: GuestDisk;
  private reader: DiskReader | undefined;

  constructor(private readonly options: DiskOptions) {
    this.guest = new GuestDisk(options.size);
    this.reader = options.read;
  }

  get byteLength(): number {
    return this.guest.byteLength;
  }

  /** Where this host reads the disk from now on (a backup going live in shared mode gets the file). */
  useReader(read: DiskReader): void {
    this.reader = read;
  }

  /**
   * The end of a slice, whole or stepped, at count `at`: the guest's writes leave (before the reads
   * complete, so a host's disk returns what the guest wrote), then every read it issued completes,
   * through `nondet` (logged by a recorder, taken from the log by a replayer).
   */
  finishIo(at: number, nondet: Nondeterminism, events: DiskIoEvents): void {
    for (const write of this.guest.takeWrites()) events.write(write);
    const source = { logsData: this.options.mode === 'shared', read: (offset: number, length: number) => this.readOwn(offset, length) };
    this.guest.completeReads((request: DiskRequest) => {
      const data = nondet.diskRead(at, request, source);
      events.read(request);
      return data;
    });
  }

  /**
   * Writes sectors as a debugger does: only what the guest knows of them (their hashes) changes,
   * never a file (one side only: the next epoch names the blocks).
   */
  poke(offset: number, data: Uint8Array): void {
    const whole = offset % SECTOR_SIZE === 0 && data.length % SECTOR_SIZE === 0;
    if (!whole || offset < 0 || offset + data.length > this.byteLength) {
      throw new RangeError(`a disk write of ${data.length} bytes at ${offset} is not whole sectors inside the ${this.byteLength}-byte disk`);
    }
    this.guest.poke(offset, data);
  }

  private readOwn(offset: number, length: number): Uint8Array {
    if (!this.reader) throw new Error(`the guest read ${length} bytes of its disk at ${offset}, and this host has no disk to read (shared mode: reads come from the log)`);
    return this.reader(offset, length);
  }
}
