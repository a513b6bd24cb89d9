// Test-and-set on shared storage, VM-FT's guard against split brain: when primary and backup each
// think the other is gone, both try to go live and exactly one wins. The storage is a directory;
// the atomic operation is an exclusive create (O_CREAT|O_EXCL), which a POSIX file system (and NFS
// v3+) performs atomically. One file per generation: each failover starts a new one.
import { mkdirSync, openSync, closeSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface Claim { won: boolean; holder: string }

export class Arbiter {
  constructor(readonly directory: string) {
    mkdirSync(directory, { recursive: true });
  }

  private fileOf(generation: number): string {
    return join(this.directory, `generation-${generation}.live`);
  }

  /** Atomically claims `generation` for `host`; says who holds it if someone already did. */
  testAndSet(generation: number, host: string): Claim {
    const path = this.fileOf(generation);
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return { won: false, holder: this.holder(generation) ?? 'unknown' };
    }
    try {
      writeSync(fd, host);
    } finally {
      closeSync(fd);
    }
    return { won: true, holder: host };
  }

  /** Who won `generation`, if anyone has. */
  holder(generation: number): string | undefined {
    try {
      return readFileSync(this.fileOf(generation), 'utf8');
    } catch {
      return undefined;
    }
  }
}
