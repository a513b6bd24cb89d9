// Start-up by phase (issue 23): when each step before a run's first guest instruction ended, in ms on
// performance.now()'s clock (0 is when Node began running this process), so that a whole-process
// measurement can say where its start-up went. Only the first time counts: a later machine (a clone,
// a restored snapshot) is not start-up.

/** In the order a `lockstep run` passes them. */
export const STARTUP_PHASES = [
  'modules', // Node's bootstrap, reading and compiling the bundle, evaluating its modules: main() is called
  'image', // the guest image and the options read
  'hasher', // the xxHash wasm instantiated (loadHasher)
  'wasmPatched', // v86.wasm read and patched (patchV86Wasm)
  'wasmCompiled', // the patched v86.wasm compiled (new WebAssembly.Module)
  'emulator', // v86 constructed: memory, devices, BIOS or multiboot image (emulator-loaded)
  'firstInstruction', // the run loop starts the guest
] as const;

export type StartupPhase = (typeof STARTUP_PHASES)[number];

export interface StartupTimes {
  /** performance.timeOrigin: the wall-clock time (ms since 1970) the phases count from. */
  timeOrigin: number;
  /** The phases passed, each when it ended (ms since timeOrigin). */
  phases: Partial<Record<StartupPhase, number>>;
  /**
   * The process's CPU time (user + system, all threads, ms) when each phase ended: on a shared machine
   * wall time says as much about the other work as about this one.
   */
  cpuMs: Partial<Record<StartupPhase, number>>;
}

const ended: Partial<Record<StartupPhase, number>> = {};
const cpuAtEnd: Partial<Record<StartupPhase, number>> = {};

/** Notes that `phase` ended now, the first time it does in this process. */
export function markStartup(phase: StartupPhase): void {
  if (ended[phase] !== undefined) return;
  ended[phase] = performance.now();
  const { user, system } = process.cpuUsage();
  cpuAtEnd[phase] = (user + system) / 1000;
}

export function startupTimes(): StartupTimes {
  return { timeOrigin: performance.timeOrigin, phases: { ...ended }, cpuMs: { ...cpuAtEnd } };
}
