// State hashes: 64-bit xxHash per 4 KiB page of guest memory (to say where two states differ), and
// one 64-bit hash over the CPU and device state. The state hash is both, as 32 hex characters:
// the first half says whether memory differs, the second whether registers or devices do.
import xxhash from 'xxhash-wasm';

export const PAGE_SIZE = 4096;

type XXHash = Awaited<ReturnType<typeof xxhash>>;
let api: XXHash | undefined;

/** Loads the hash functions (wasm, once per process). */
export async function loadHasher(): Promise<void> {
  api ??= await xxhash();
}

function xx(): XXHash {
  if (!api) throw new Error('loadHasher() must complete before hashing');
  return api;
}

/** One 64-bit hash per 4 KiB page. */
export function pageHashes(memory: Uint8Array): BigUint64Array {
  const { h64Raw } = xx();
  const pages = new BigUint64Array(Math.ceil(memory.length / PAGE_SIZE));
  for (let page = 0; page < pages.length; page++) {
    pages[page] = h64Raw(memory.subarray(page * PAGE_SIZE, (page + 1) * PAGE_SIZE), 0n);
  }
  return pages;
}

/** xxHash64 of `bytes` with `seed`. */
export function xxHash64(bytes: Uint8Array, seed: bigint): bigint {
  return xx().h64Raw(bytes, seed);
}

export function hashBytes(bytes: Uint8Array | BigUint64Array): bigint {
  return xx().h64Raw(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0n);
}

export function hex64(value: bigint): string {
  return value.toString(16).padStart(16, '0');
}

export function stateHash(pages: BigUint64Array, cpuAndDevices: bigint): string {
  const memory = hashBytes(pages);
  return hex64(memory) + hex64(cpuAndDevices);
}

/** Pages whose hashes differ, as page numbers. */
export function differingPages(a: BigUint64Array, b: BigUint64Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) out.push(i);
  return out;
}

interface ViewLike { buffer: unknown; byteOffset: number; byteLength: number }

/** The bytes of a typed array, or of v86's proxies that stand for one (they survive memory growth). */
function bytesOf(value: object): Uint8Array | undefined {
  const view = value as ViewLike;
  if (!ArrayBuffer.isView(value) && !(view.buffer instanceof ArrayBuffer)) return undefined;
  return new Uint8Array(view.buffer as ArrayBuffer, view.byteOffset, view.byteLength);
}

/**
 * Hashes a tree of v86 state (numbers, strings, typed arrays, arrays, objects with get_state()) in a
 * fixed order. Used for CPU registers and device state; guest memory is hashed by page instead.
 */
export class StateHasher {
  private readonly hasher = xx().create64(0n);
  private readonly scratch = new Float64Array(1);
  private readonly scratchBytes = new Uint8Array(this.scratch.buffer);

  add(value: unknown): this {
    if (typeof value === 'number' || typeof value === 'boolean') return this.number(Number(value));
    if (typeof value === 'string') return this.tag(1).bytes(Buffer.from(value, 'utf8'));
    if (value === undefined || value === null) return this.tag(2);
    const view = bytesOf(value);
    if (view) return this.tag(3).bytes(view);
    if (Array.isArray(value)) {
      this.tag(4).number(value.length);
      for (const item of value) this.add(item);
      return this;
    }
    const stateful = value as { get_state?: () => unknown };
    if (typeof stateful.get_state === 'function') return this.tag(5).add(stateful.get_state());
    throw new Error(`cannot hash a ${Object.prototype.toString.call(value)} in v86 state`);
  }

  digest(): bigint {
    return this.hasher.digest();
  }

  private number(n: number): this {
    this.scratch[0] = n;
    return this.bytes(this.scratchBytes);
  }

  private tag(t: number): this {
    return this.number(-1 - t);
  }

  private bytes(b: Uint8Array): this {
    this.hasher.update(b);
    return this;
  }
}
