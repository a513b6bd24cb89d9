// Local disks (VM-FT §4.1 "non-shared disk", seed 000): no storage outside the hosts; each host works
// on its own copy of FILE, FILE.host-N. The disk is part of each machine's state: the guest's writes go
// to this host's copy at once (not under the Output Rule: nothing outside sees them), on the primary
// and, replaying, on the backup alike; its reads come from the copy, so the log carries only their
// completions. The primary makes each write durable off the guest's thread by a group commit
// (groupcommit.ts) and releases no output made after a write before it is durable. The backup's writes
// stay in the kernel's cache: its copy counts only once it goes live, and then one fdatasync makes them
// all durable before its first output (its fdatasyncs, about 560 a run of the disk benchmark at
// 0.15-0.3 ms of CPU each, took the pair's two cores for a copy nothing reads after its host dies). A
// copy starts as FILE (the first pair) or as the primary's copy, sent with the clone's checkpoint.
import { copyFileSync, writeFileSync } from 'node:fs';
import { DiskFile, type DiskCounts, type DiskWrite } from '../machine';
import { GroupCommit } from './groupcommit';

/** Where host `hostId` keeps its copy of FILE. */
export function localDiskPath(path: string, hostId: string): string {
  return `${path}.${hostId}`;
}

export class LocalDisk {
  readonly counts: DiskCounts & { bytesCloned: number } = {
    reads: 0, bytesRead: 0, writes: 0, bytesWritten: 0, bytesCloned: 0,
  };

  private readonly commit: GroupCommit;

  private constructor(readonly file: DiskFile) {
    this.commit = new GroupCommit(file);
  }

  /** This host's copy, made from FILE (a copy left by an earlier run is replaced) or from a clone's bytes. */
  static create(path: string, hostId: string, contents?: Uint8Array): LocalDisk {
    const copy = localDiskPath(path, hostId);
    if (contents) writeFileSync(copy, contents);
    else copyFileSync(path, copy);
    const file = DiskFile.open(copy);
    file.sync();
    return new LocalDisk(file);
  }

  read(offset: number, length: number): Uint8Array {
    this.counts.reads++;
    this.counts.bytesRead += length;
    return this.file.read(offset, length);
  }

  /** fdatasyncs made on this copy so far. */
  get syncs(): number {
    return this.commit.syncs;
  }

  /** A write the live primary's guest made: on the copy at once (later reads see it); settles once it is durable. */
  write(write: DiskWrite): Promise<void> {
    this.writeUnsynced(write);
    return this.commit.sync();
  }

  /** A write the backup's replay made: on the copy at once, durable only when `durable` is asked (at go-live). */
  writeUnsynced({ offset, data }: DiskWrite): void {
    this.file.writeUnsynced(offset, data);
    this.counts.writes++;
    this.counts.bytesWritten += data.length;
  }

  /** The whole copy, for a new backup's clone: every write so far is on it (each is written as the guest makes it). */
  contents(): Uint8Array {
    const bytes = this.file.read(0, this.file.size);
    this.counts.bytesCloned += bytes.length;
    return bytes;
  }

  /** Settles once every write made so far is durable, those made unsynced too (one fdatasync after them). */
  durable(): Promise<void> {
    return this.commit.sync();
  }

  /** Closes the copy once every write is durable. */
  async close(): Promise<void> {
    await this.durable();
    this.file.close();
  }
}
