// The hash keys of v86's JIT tables: state that neither v86's snapshot nor its cache flush resets,
// and that decides what the JIT compiles.
//
// v86's JIT (src/rust/jit.rs) keeps its entry points, pages and analysis sets in Rust std HashMaps
// and HashSets. Each new one takes its SipHash keys from std's per-thread RandomState KEYS (two u64
// in a wasm static); on wasm32-unknown-unknown there is no OS randomness, so std seeds them once
// from two addresses and then adds 1 to the first key for every HashMap or HashSet created. That
// counter only grows: a new page the interpreter enters, a compile, a cache flush all move it. So
// the order in which a new set is iterated depends on how many sets the instance has made since it
// was loaded. jit_find_basic_blocks walks a page's entry points in that order, and with at most
// three pages per module (and blocks re-split in visiting order) the order decides which pages and
// blocks a module gets; where the compiled blocks end decides where slices end, and so where
// interrupts land. A clone restored from a snapshot (a fresh instance) or a machine restored in place
// (the counter has moved on) had other keys than the original and drifted after a few compiles.
//
// So the canonical form of every epoch (and every restore) sets both keys to constants: from there
// on the JIT's sets get the same keys, in the same order, on every machine that runs the same guest.
import { HashKeyStatics, v86Module } from './v86wasm';

/** Any fixed values do: they only have to be the same on every machine. ("Lockstep", "JIT keys") */
const CANONICAL_KEYS = [0x4c6f636b73746570n, 0x4a4954206b657973n] as const;

export class JitHashKeys {
  constructor(
    private readonly memory: WebAssembly.Memory,
    private readonly statics: HashKeyStatics = v86Module().hashKeys,
  ) {}

  /** Sets both keys to the canonical constants. */
  canonicalize(): void {
    // Before std initializes the keys (v86's rust_init makes HashMaps, so it has by now) it would
    // overwrite these on the next HashMap::new().
    if (new Uint8Array(this.memory.buffer, this.statics.initialized, 1)[0] !== 1) {
      throw new Error(`v86.wasm: Rust's RandomState keys at ${this.statics.keys[0]} are not initialized (state byte at ${this.statics.initialized})`);
    }
    this.statics.keys.forEach((address, i) => { this.view(address)[0] = CANONICAL_KEYS[i]; });
  }

  private view(address: number): BigUint64Array {
    return new BigUint64Array(this.memory.buffer, address, 1);
  }
}

/**
 * The JIT state of every machine at an epoch, whatever its history (a restore ends in it too): an
 * empty cache, as a restored machine has, and the canonical keys of the JIT's tables.
 */
export class CanonicalJit {
  private readonly keys: JitHashKeys;

  constructor(private readonly cpu: { jit_clear_cache(): void; wasm_memory: WebAssembly.Memory }) {
    this.keys = new JitHashKeys(cpu.wasm_memory);
  }

  apply(): void {
    this.cpu.jit_clear_cache();
    this.keys.canonicalize(); // after the flush, which makes a HashSet of its own
  }
}
