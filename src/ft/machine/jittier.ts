// Which of V8's wasm compilers compiles the JIT's modules: Liftoff (its baseline compiler) alone.
// By default V8 compiles every wasm function with Liftoff, then again with TurboFan (its optimizing
// compiler, on background threads) once it has run enough. For v86.wasm itself that pays: it is
// compiled once per process and runs all along. For the modules v86's JIT generates it mostly does
// not: a paging guest's are large (a Linux boot: 106 modules, 63 KiB of wasm each on average), and
// TurboFan's work on them cost the boot more CPU than its whole main thread did, for about 4 % of the
// main thread's time (docs/machine.md, "V8's tiers"). So the JIT's modules are compiled in Liftoff
// alone and every other module (v86.wasm, the page hasher; other code's in the same process, as the
// extension host's) keeps V8's defaults: V8's flags at the moment a module is compiled decide its
// tiers, so they are set around each compile rather than for the process. Guest-visible state does
// not depend on it: the same wasm computes the same results in either tier
// (test/ft/machine/jittier.test.ts replays a recording across the two).
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
  chosen ??= jitTierFor(process.execArgv, process.env.NODE_OPTIONS);
  return chosen;
}

/**
 * Modules compiled from now on stay in Liftoff; those compiled before keep their tiers. Without dynamic
 * tiering and with tier-up off, V8 compiles a module with Liftoff alone; tier-up stays off for good
 * (only modules without dynamic tiering read it: with it on again, they would be optimized whole).
 */
export function liftoffFromNowOn(): void {
  setFlagsFromString('--no-wasm-tier-up');
  setFlagsFromString('--no-wasm-dynamic-tiering');
}

/** Modules compiled from now on get V8's default tiers again (Liftoff, then TurboFan where hot). */
export function v8TiersFromNowOn(): void {
  setFlagsFromString('--wasm-dynamic-tiering');
}

/** Compiles a module of v86's JIT in this process's tier. */
export function compileJitModule(bytes: Uint8Array<ArrayBuffer>): WebAssembly.Module {
  if (jitTier() === 'v8') return new WebAssembly.Module(bytes);
  liftoffFromNowOn();
  try {
    return new WebAssembly.Module(bytes);
  } finally {
    v8TiersFromNowOn();
  }
}
