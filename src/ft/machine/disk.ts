// The guest's IDE disk, made deterministic. v86 asks its disk buffer for data with an asynchronous
// get(start, length, callback): whenever the callback runs, the guest sees the read complete. Here the
// machine's GuestDisk is that buffer; it answers no read at once but at the end of the slice that
// issued it (a boundary named by the guest's execution alone), with data that comes through the
// machine's Nondeterminism: the recorder reads this host's disk and logs the read (with its data in
// shared mode, without in local mode), a replayer returns what was logged. Writes complete at once in
// the guest and leave the machine as `diskWrite` events at the end of their slice, like serial output:
// where they go (held by the Output Rule, a file, nowhere) is the host's business.
// What the guest knows of its disk is in the machine's state: one hash per 512-byte sector it read or
// wrote (v86 keeps the buffer's get_state in its snapshot, so snapshots, clones and time travel carry
// it), summed into one hash per 4 KiB block so a divergence names blocks as it names pages.
import { hashBytes, xxHash64 } from './hash';
import { SECTOR_SIZE } from '../log';

export const DISK_BLOCK_SIZE = 4096;
const SECTORS_PER_BLOCK = DISK_BLOCK_SIZE / SECTOR_SIZE;

/** shared: one FILE outside both hosts, reads go through the log; local: each host has its own copy. */
export type DiskMode = 'shared' | 'local';

export type { DiskRequest } from '../log';

/** What a guest did with its disk. */
export interface DiskCounts { reads: number; bytesRead: number; writes: number; bytesWritten: number }
import type { DiskRequest } from '../log';
export interface DiskWrite { offset: number; data: Uint8Array }

/** Where a host reads its disk (a file, with writes still held laid over it). */
export type DiskReader = (offset: number, length: number) => Uint8Array;

/** Where a single host keeps its disk: FILE itself (DiskFile), or a replay's scratch copy (DiskOverlay). */
export interface DiskStore {
  read: DiskReader;
  write(offset: number, data: Uint8Array): void;
}

/** What a machine's Nondeterminism needs to complete a read: this host's disk, and whether the log carries data. */
export interface DiskSource {
  readonly logsData: boolean;
  read: DiskReader;
}

export interface DiskOptions {
  /** Bytes, a whole number of sectors. */
  size: number;
  mode: DiskMode;
  /** This host's disk; none on a shared-mode backup or a replay (reads come from the log). */
  read?: DiskReader;
}

interface PendingRead extends DiskRequest { done: (data: Uint8Array) => void }

/** The buffer v86's IDE disk reads and writes (v86 takes any object with get, set and load). */
export class GuestDisk {
  readonly byteLength: number;
  onload: ((event: { buffer?: ArrayBuffer }) => void) | undefined;
  onprogress: undefined;
  private reads: PendingRead[] = [];
  private writes: DiskWrite[] = [];
  /** Sector number -> xxHash64 of what the guest last read or wrote there. */
  private sectors = new Map<number, bigint>();

  constructor(size: number) {
    this.byteLength = size;
  }

  load(): void {
    this.onload?.({});
  }

  /** v86 issues a read: it completes at the end of the slice (completeReads). */
  get(offset: number, length: number, done: (data: Uint8Array) => void): void {
    this.reads.push({ offset, length, done });
  }

  /** v86 writes: the guest sees it done at once; the host gets it at the end of the slice (takeWrites). */
  set(offset: number, data: Uint8Array, done: () => void): void {
    const copy = data.slice();
    this.writes.push({ offset, data: copy });
    this.observe(offset, copy);
    done();
  }

  /** v86 reads sector 0 for the disk's geometry: none is given, so it comes from the size alone, on every host. */
  get_and_cache(_offset: number, _length: number, done: (data?: Uint8Array) => void): void {
    done(undefined);
  }

  get_from_cache(): undefined {
    return undefined;
  }

  get hasPendingReads(): boolean {
    return this.reads.length > 0;
  }

  takeWrites(): DiskWrite[] {
    return this.writes.splice(0);
  }

  /** Completes every pending read, in the order issued, with the data `complete` returns. */
  completeReads(complete: (request: DiskRequest) => Uint8Array): void {
    for (const read of this.reads.splice(0)) {
      const data = complete(read);
      if (data.length !== read.length) throw new RangeError(`a disk read of ${read.length} bytes at ${read.offset} got ${data.length}`);
      this.observe(read.offset, data);
      read.done(data);
    }
  }

  /** Forgets requests in flight (a restore: snapshots are taken at boundaries, where none are). */
  reset(): void {
    this.reads = [];
    this.writes = [];
  }

  /** Writes sectors as a debugger does (one side only: the next epoch names the blocks). */
  poke(offset: number, data: Uint8Array): void {
    this.observe(offset, data);
  }

  /** One hash per 4 KiB block: the sum of its known sectors' hashes (0 where the guest knows nothing). */
  blockHashes(): BigUint64Array {
    const blocks = new BigUint64Array(Math.ceil(this.byteLength / DISK_BLOCK_SIZE));
    for (const [sector, hash] of this.sectors) blocks[Math.floor(sector / SECTORS_PER_BLOCK)] += hash;
    return blocks;
  }

  /** Kept in v86's snapshot (the IDE saves its buffer): the sector hashes, sorted so equal states save alike. */
  get_state(): unknown[] {
    const sectors = [...this.sectors.keys()].sort((a, b) => a - b);
    const hashes = new BigUint64Array(sectors.map((s) => this.sectors.get(s)!));
    return [this.byteLength, Uint32Array.from(sectors), new Uint8Array(hashes.buffer)];
  }

  set_state(state: unknown[]): void {
    const sectors = state[1] as Uint32Array;
    const bytes = (state[2] as Uint8Array).slice();
    const hashes = new BigUint64Array(bytes.buffer, 0, sectors.length);
    this.sectors = new Map([...sectors].map((s, i) => [s, hashes[i]]));
    this.reset();
  }

  private observe(offset: number, data: Uint8Array): void {
    for (let at = 0; at < data.length; at += SECTOR_SIZE) {
      const sector = (offset + at) / SECTOR_SIZE;
      this.sectors.set(sector, xxHash64(data.subarray(at, at + SECTOR_SIZE), BigInt(sector)));
    }
  }
}

/** The disk's part of the device hash. */
export function diskHash(disk: GuestDisk): bigint {
  return hashBytes(disk.blockHashes());
}
