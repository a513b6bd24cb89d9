// Which of V8's wasm compilers compiles the JIT's modules: Liftoff (its baseline compiler) alone.
// By default V8 compiles every wasm function with Liftoff, then again with TurboFan (its optimizing
// compiler, on background threads) once it has run enough. For v86.wasm itself that pays: it is
// compiled once per process and runs all along. For the modules v86's JIT generates it mostly does
// not: a paging guest's are large (Linux's boot: 106 modules, 63 KiB each on average) and short-lived,
// so TurboFan cost a Linux boot more CPU than its whole main thread did, for about 4 % of the main
// thread's time (docs/machine.md, "V8's tiers"). So the JIT's modules are compiled without dynamic
// tiering and with tier-up off, which leaves them in Liftoff, and every other module (v86.wasm, the
// page hasher) keeps V8's defaults: only V8's flags at the moment a module is compiled decide its
// tiers. Guest-visible state does not depend on it: the same wasm computes the same results in
// either tier (test/ft/machine/jittier.test.ts replays a recording across the two).
import { setFlagsFromString } from 'node:v8';

export type JitTier = 'liftoff' | 'v8';

/** A V8 flag that chooses wasm tiers: given one, the user decides and Lockstep leaves V8 alone. */
const TIERING_FLAG = /^--(no-)?(liftoff|wasm[-_]tier|wasm[-_]dynamic[-_]tiering)/;

/** Liftoff for the JIT's modules, unless this process was given a V8 flag about wasm tiers. */
export function jitTierFor(execArgv: readonly string[], nodeOptions = ''): JitTier {
  const flags = [...execArgv, ...nodeOptions.split(/\s+/)];
  return flags.some((flag) => TIERING_FLAG.test(flag)) ? 'v8' : 'liftoff';
}

let chosen: JitTier | undefined;

/** This process's choice (made once: its flags do not change). */
export function jitTier(): JitTier {
  if (chosen === undefined) {
    chosen = jitTierFor(process.execArgv, process.env.NODE_OPTIONS);
    // A module compiled without dynamic tiering would otherwise be optimized whole right away on V8's
    // background threads; modules with dynamic tiering (all the others) do not read this flag.
    if (chosen === 'liftoff') setFlagsFromString('--no-wasm-tier-up');
  }
  return chosen;
}

/** Compiles a module of v86's JIT in this process's tier. */
export function compileJitModule(bytes: Uint8Array<ArrayBuffer>): WebAssembly.Module {
  if (jitTier() === 'v8') return new WebAssembly.Module(bytes);
  setFlagsFromString('--no-wasm-dynamic-tiering');
  try {
    return new WebAssembly.Module(bytes);
  } finally {
    setFlagsFromString('--wasm-dynamic-tiering');
  }
}
