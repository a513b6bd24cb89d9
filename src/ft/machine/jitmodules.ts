// The JIT's wasm, compiled once per content. Every epoch empties v86's JIT cache (so that a
// checkpoint there restores into a machine that computes the same), and v86 then generates the
// same wasm for the same hot guest pages again. Compiling those bytes anew costs V8 a compile and,
// for hot code, another optimizing compile on its background threads, after every epoch. A
// compiled module is immutable code, so handing out the one compiled before changes nothing the
// guest can see: the code still lands at the end of the slice that asked for it (machine.ts).
import { hashBytes } from './hash';

/** Wasm bytes kept (with their compiled code) before the cache starts over: the kv guest keeps about 130 KiB. */
const DEFAULT_BUDGET_BYTES = 4 * 1024 * 1024;

interface Compiled {
  bytes: Uint8Array;
  module: WebAssembly.Module;
}

export class JitModules {
  private readonly byHash = new Map<bigint, Compiled>();
  private keptBytes = 0;
  /** Compiles answered with a module compiled before. */
  reused = 0;

  constructor(private readonly budgetBytes = DEFAULT_BUDGET_BYTES) {}

  /** The module for `bytes`: the one compiled before for the same bytes, else a new one. Needs loadHasher(). */
  compile(bytes: Uint8Array): WebAssembly.Module {
    const key = hashBytes(bytes);
    const kept = this.byHash.get(key);
    // Same hash, other bytes (2^-64): compile it, and keep the first.
    if (kept && Buffer.compare(kept.bytes, bytes) === 0) {
      this.reused++;
      return kept.module;
    }
    const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    if (!kept) this.keep(key, { bytes: bytes.slice(), module });
    return module;
  }

  /** A guest whose hot code outgrows the budget starts over rather than keeping every page it ever ran. */
  private keep(key: bigint, compiled: Compiled): void {
    if (this.keptBytes + compiled.bytes.length > this.budgetBytes) {
      this.byHash.clear();
      this.keptBytes = 0;
    }
    this.byHash.set(key, compiled);
    this.keptBytes += compiled.bytes.length;
  }
}

/** One per process: every machine in it compiles through this. */
export const jitModules = new JitModules();
