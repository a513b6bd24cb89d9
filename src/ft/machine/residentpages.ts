// Which pages of a wasm memory the OS has never given memory to, from Linux's page map of this process
// (/proc/self/pagemap): such a page of private anonymous memory (what V8 gives a wasm memory) reads as
// zeros, so its hash is known without reading it. Reading it would cost a page fault, about 13 µs of CPU
// a page on the machines measured here (256 MiB: 0.8 s), and v86's guests leave most of their RAM
// untouched (Linux: most of 256 MiB). The hashes are the same either way; only what they cost changes.
//
// Page map entries are indexed by virtual address, which JavaScript does not see: the memory is found
// in /proc/self/maps as the read-write anonymous mapping of exactly its size that V8 reserves for it.
// When several memories have that size, reading one byte of a page none of them has mapped tells which
// one is this memory (the read maps that page in this memory only; it changes no byte). Anything
// unexpected (no /proc, another page size, no unique mapping) leaves every page to be read.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

const OS_PAGE = 4096;
const ENTRY_BYTES = 8;
/** Page map entry bits: the page is in RAM, or in swap. Either way it may hold something other than zeros. */
const PRESENT = 1n << 63n;
const SWAPPED = 1n << 62n;

interface Mapping { start: number; pages: number }

/** Read-write private anonymous mappings of exactly `bytes` bytes, by start address. */
function mappingsOfSize(bytes: number): Mapping[] {
  const found: Mapping[] = [];
  for (const line of readFileSync('/proc/self/maps', 'latin1').split('\n')) {
    const [range, perms, offset, device, inode, path] = line.split(/\s+/);
    if (perms !== 'rw-p' || offset !== '00000000' || device !== '00:00' || inode !== '0' || path) continue;
    const [start, end] = range.split('-').map((hex) => parseInt(hex, 16));
    if (end - start === bytes) found.push({ start, pages: bytes / OS_PAGE });
  }
  return found;
}

export class ResidentPages {
  private constructor(private readonly fd: number, private readonly start: number) {}

  /** The page map of `memory`, or undefined when this OS or process cannot say (then every page is read). */
  static of(memory: WebAssembly.Memory): ResidentPages | undefined {
    if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
    let fd: number;
    try {
      fd = openSync('/proc/self/pagemap', 'r');
    } catch {
      return undefined;
    }
    let start: number | undefined;
    try {
      start = ResidentPages.locate(fd, memory);
    } catch {
      start = undefined; // a /proc that reads otherwise than expected: every page is read
    }
    if (start === undefined) {
      closeSync(fd);
      return undefined;
    }
    return new ResidentPages(fd, start);
  }

  /** The start address of `memory`'s mapping, telling same-sized mappings apart by probing pages none has. */
  private static locate(fd: number, memory: WebAssembly.Memory): number | undefined {
    const bytes = new Uint8Array(memory.buffer);
    let candidates = mappingsOfSize(bytes.length);
    while (candidates.length > 1) {
      const maps = candidates.map((c) => entries(fd, c.start, c.pages));
      const probe = lastPageMappedNowhere(maps);
      if (probe === undefined) return undefined;
      // Reading a never-mapped page of private anonymous memory maps the zero page there: no byte changes.
      // (An atomic load, so that no compiler drops a read whose value is not used.)
      Atomics.load(bytes, probe * OS_PAGE);
      candidates = candidates.filter((c) => isResident(entries(fd, c.start + probe * OS_PAGE, 1)[0]));
    }
    return candidates[0]?.start;
  }

  /**
   * For each 4 KiB page of `length` bytes at `byteOffset` in the memory: whether it may hold anything but
   * zeros (some OS page under it is in RAM or swap).
   */
  mayBeNonZero(byteOffset: number, length: number): Uint8Array {
    const first = Math.floor(byteOffset / OS_PAGE);
    const last = Math.floor((byteOffset + length - 1) / OS_PAGE);
    const map = entries(this.fd, this.start + first * OS_PAGE, last - first + 1);
    const pages = new Uint8Array(Math.ceil(length / OS_PAGE));
    for (let page = 0; page < pages.length; page++) {
      const from = Math.floor((byteOffset + page * OS_PAGE) / OS_PAGE) - first;
      const to = Math.floor((byteOffset + page * OS_PAGE + OS_PAGE - 1) / OS_PAGE) - first;
      pages[page] = isResident(map[from]) || isResident(map[to]) ? 1 : 0;
    }
    return pages;
  }

  close(): void {
    closeSync(this.fd);
  }
}

function isResident(entry: bigint): boolean {
  return (entry & (PRESENT | SWAPPED)) !== 0n;
}

/** Page map entries of `pages` OS pages from virtual address `start`. */
function entries(fd: number, start: number, pages: number): BigUint64Array {
  const out = new BigUint64Array(pages);
  const bytes = new Uint8Array(out.buffer);
  let done = 0;
  while (done < bytes.length) {
    const read = readSync(fd, bytes, done, bytes.length - done, (start / OS_PAGE) * ENTRY_BYTES + done);
    if (read === 0) throw new Error(`/proc/self/pagemap ended at page ${start / OS_PAGE + done / ENTRY_BYTES}`);
    done += read;
  }
  return out;
}

/** The last page that no mapping in `maps` has in RAM or swap. */
function lastPageMappedNowhere(maps: BigUint64Array[]): number | undefined {
  for (let page = maps[0].length - 1; page >= 0; page--) {
    if (maps.every((map) => !isResident(map[page]))) return page;
  }
  return undefined;
}
