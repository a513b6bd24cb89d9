// The JIT's wasm, compiled once per content, and the bytes of every compiled function v86 holds.
// v86 generates the same wasm for the same hot guest pages in every machine that runs the same
// guest, and a restore (snapshot.ts, jitstate.ts) instantiates the modules its snapshot carries
// again: compiling those bytes anew would cost V8 a compile and, for hot code, another optimizing
// compile on its background threads, each time. A compiled module is immutable code, so handing
// out the one compiled before changes nothing the guest can see: the code still lands at the end of
// the slice that asked for it (machine.ts).
import { hashBytes } from './hash';
import { compileJitModule } from './jittier';

/** Wasm bytes kept (with their compiled code) before the cache starts over: the kv guest keeps about 130 KiB. */
const DEFAULT_BUDGET_BYTES = 4 * 1024 * 1024;

/** A module and the bytes it was compiled from (a copy of its own). */
export interface Compiled {
  bytes: Uint8Array;
  module: WebAssembly.Module;
}

export class JitModules {
  private readonly byHash = new Map<bigint, Compiled>();
  private keptBytes = 0;
  /** The wasm of each compiled function instantiated here, so that a snapshot can carry v86's table. */
  private readonly bytesOfCode = new WeakMap<object, Uint8Array>();
  /** Compiles answered with a module compiled before. */
  reused = 0;

  constructor(private readonly budgetBytes = DEFAULT_BUDGET_BYTES) {}

  /** The module for `bytes`: the one compiled before for the same bytes, else a new one. Needs loadHasher(). */
  compile(bytes: Uint8Array): Compiled {
    const key = hashBytes(bytes);
    const kept = this.byHash.get(key);
    // Same hash, other bytes (2^-64): compile it, and keep the first.
    if (kept && Buffer.compare(kept.bytes, bytes) === 0) {
      this.reused++;
      return kept;
    }
    const copy = bytes.slice();
    const compiled = { bytes: copy, module: compileJitModule(copy as Uint8Array<ArrayBuffer>) };
    if (!kept) this.keep(key, compiled);
    return compiled;
  }

  /** An instance of v86's JIT code `bytes` (its one export, `f`, goes into v86's table); its bytes are remembered. */
  instantiate(bytes: Uint8Array, imports: WebAssembly.Imports): WebAssembly.WebAssemblyInstantiatedSource {
    const { module, bytes: kept } = this.compile(bytes);
    const instance = new WebAssembly.Instance(module, imports);
    this.bytesOfCode.set(instance.exports.f, kept);
    return { module, instance };
  }

  /** The wasm a function in v86's table was instantiated from, if it was instantiated here. */
  bytesOf(code: object): Uint8Array | undefined {
    return this.bytesOfCode.get(code);
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
