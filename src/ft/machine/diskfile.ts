// A disk image file (`--disk FILE`): a raw image of whole 512-byte sectors that a host reads and
// writes in place. Every write reaches the storage (fdatasync) before write() returns. One run at a
// time: the run that owns FILE holds FILE.lock (its process id), and another run is refused while
// that process lives.
import {
  closeSync, constants, fdatasync, fdatasyncSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync,
  writeSync,
} from 'node:fs';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { SECTOR_SIZE } from '../log';

/** Made once: promisify builds a new function each call (400 background syncs: 87 ms of CPU so, 67 with this). */
const fdatasyncInBackground = promisify(fdatasync);

export class DiskError extends Error {
  override name = 'DiskError';
}

/** What a recording says about its disk: enough to tell the same disk from another. */
export interface DiskIdentity {
  path: string;
  size: number;
  /** sha256 of its contents when the run started. */
  sha256: string;
}

/**
 * Why `path` cannot be a disk, or undefined: a regular file of whole sectors, readable, and writable
 * unless `readOnly` (a replay reads its disk and never writes it).
 */
export function diskProblem(path: string, readOnly = false): string | undefined {
  let size: number;
  try {
    const stat = statSync(path);
    if (!stat.isFile()) return 'it is not a regular file';
    size = stat.size;
    closeSync(openSync(path, readOnly ? 'r' : 'r+'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'no such file';
    if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM') return `it cannot be ${readOnly ? 'read' : 'written'} (permission denied)`;
    return (error as Error).message;
  }
  if (size === 0 || size % SECTOR_SIZE) return `its size, ${size} bytes, is not a whole number of ${SECTOR_SIZE}-byte sectors`;
  return undefined;
}

function lockPath(path: string): string {
  return `${resolve(path)}.lock`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes FILE.lock for this process; refuses when another live process holds it (a lock whose process is
 * gone is taken over). Returns how to let go.
 */
export function lockDisk(path: string): () => void {
  const lock = lockPath(path);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new DiskError(`--disk ${path}: cannot lock it: ${(error as Error).message}`);
      const holder = Number(readFileSync(lock, 'utf8').trim());
      if (Number.isSafeInteger(holder) && alive(holder)) throw new DiskError(`--disk ${path} is in use by another run (process ${holder} holds ${lock})`);
      rmSync(lock, { force: true });
    }
  }
  throw new DiskError(`--disk ${path}: cannot lock it: ${lock} keeps coming back`);
}

/** FILE checked, open and locked for this run (one line if it cannot be); `close` lets go of both. */
export function openLockedDisk(path: string): { file: DiskFile; close: () => void } {
  const file = DiskFile.open(path);
  let unlock: () => void;
  try {
    unlock = lockDisk(path);
  } catch (error) {
    file.close();
    throw error;
  }
  return { file, close: () => { file.close(); unlock(); } };
}

/** An open disk image. */
export class DiskFile {
  private constructor(readonly path: string, readonly size: number, private fd: number) {}

  /**
   * Opens FILE for reading and writing (for reading only with `readOnly`), or throws a DiskError saying in
   * one line what is wrong with it.
   */
  static open(path: string, readOnly = false): DiskFile {
    const problem = diskProblem(path, readOnly);
    if (problem) throw new DiskError(`--disk ${path}: ${problem}`);
    return new DiskFile(path, statSync(path).size, openSync(path, readOnly ? constants.O_RDONLY : constants.O_RDWR));
  }

  read(offset: number, length: number): Uint8Array {
    const data = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, data, done, length - done, offset + done);
      if (n === 0) throw new DiskError(`${this.path} ended at ${offset + done} bytes, inside a read of ${length} at ${offset}`);
      done += n;
    }
    return data;
  }

  /** Writes and waits for the storage to have it. */
  write(offset: number, data: Uint8Array): void {
    this.writeUnsynced(offset, data);
    this.sync();
  }

  /** Writes into the kernel's cache (quick, no storage wait): `sync` or `syncInBackground` makes it durable. */
  writeUnsynced(offset: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) done += writeSync(this.fd, data, done, data.length - done, offset + done);
  }

  /** Waits for the storage to have everything written so far. */
  sync(): void {
    fdatasyncSync(this.fd);
  }

  /** fdatasync off this thread (libuv's pool): settles once the storage has everything written before it. */
  syncInBackground(): Promise<void> {
    return fdatasyncInBackground(this.fd);
  }

  identity(): DiskIdentity {
    const hash = createHash('sha256');
    const chunk = 1 << 20;
    for (let offset = 0; offset < this.size; offset += chunk) {
      hash.update(this.read(offset, Math.min(chunk, this.size - offset)));
    }
    return { path: resolve(this.path), size: this.size, sha256: hash.digest('hex') };
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
