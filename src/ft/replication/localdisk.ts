// Local disks (VM-FT §4.1 "non-shared disk", seed 000): no storage outside the hosts; each host works
// on its own copy of FILE, FILE.host-N. The disk is part of each machine's state: the guest's writes go
// to this host's copy at once (not under the Output Rule: nothing outside sees them), on the primary
// and, replaying, on the backup alike; its reads come from the copy, so the log carries only their
// completions. Each write is made durable off the guest's thread by a group commit (groupcommit.ts): the
// primary releases no output made after a write before it is durable. A copy starts as FILE (the first
// pair) or as the primary's copy, sent with the clone's checkpoint (a new backup).
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

  /**
   * A write the guest made (on the primary live, on the backup replaying): on the copy at once (later reads
   * see it); the promise settles once it is durable.
   */
  write({ offset, data }: DiskWrite): Promise<void> {
    this.file.writeUnsynced(offset, data);
    this.counts.writes++;
    this.counts.bytesWritten += data.length;
    return this.commit.sync();
  }

  /** The whole copy, for a new backup's clone: every write so far is on it (each is written as the guest makes it). */
  contents(): Uint8Array {
    const bytes = this.file.read(0, this.file.size);
    this.counts.bytesCloned += bytes.length;
    return bytes;
  }

  /** Settles once every write so far is durable (or has failed). */
  drained(): Promise<void> {
    return this.commit.drained();
  }

  /** Closes the copy once every write is durable. */
  async close(): Promise<void> {
    await this.commit.drained();
    this.file.close();
  }
}
