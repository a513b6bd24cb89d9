// The v86 hooks: where a machine takes over what v86 would otherwise read from the host. v86 reads
// time (microtick, Date) and compiles JIT code (WebAssembly.instantiate) through process-wide
// globals, which are routed to the running machine only while it runs (activate); and its wasm
// imports are wrapped so that time, random numbers and timer runs come from the machine's Clock,
// its Nondeterminism and its boundary counts.
import type { Clock } from './clock';
import { countBeforeExit } from './jitexit';
import { jitModules } from './jitmodules';
import { v86Module } from './v86wasm';
import type * as v86 from './v86types';

/** The hooks of the machine whose code is running right now. */
let active: V86Hooks | undefined;
const HostDate = Date;
const hostInstantiate = WebAssembly.instantiate;

/**
 * `Date` as a machine's device code must see it: now is the guest's time. v86's RTC reads Date.now()
 * in its timer and `new Date()` when the guest sets an alarm; both must be the guest's clock.
 */
function guestDate(now: () => number): DateConstructor {
  class GuestDate extends HostDate {
    static override now = now;
    constructor(...args: unknown[]) {
      // @ts-expect-error: Date takes what it is given (0 to 7 arguments), passed on as they came.
      super(...(args.length ? args : [now()]));
    }
  }
  return GuestDate as unknown as DateConstructor;
}

/**
 * Compiles JIT output synchronously and hands it over at the end of the current slice (a boundary),
 * not at a timing-dependent later point. It cannot be handed over at once: v86 still holds its JIT
 * state lock while it asks for the compile. Its exit path stores the instruction count before it
 * calls exit_jit (countBeforeExit), so that the machine can record where each exit left the count.
 */
function instantiateAtSliceEnd(bytes: BufferSource, imports?: WebAssembly.Imports) {
  const view = ArrayBuffer.isView(bytes)
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : new Uint8Array(bytes);
  const result = jitModules.instantiate(countBeforeExit(view), imports ?? {});
  const deferred = {
    then(onResult: (r: typeof result) => unknown) { active!.compiled.push(() => onResult(result)); return deferred; },
    catch() { return deferred; },
  };
  return deferred;
}

/** What the hooks ask of their machine. */
export interface HookedMachine {
  readonly clock: Clock;
  /** A random number for v86's get_rand_int (taken from the machine's Nondeterminism). */
  random(): number;
  /** The count v86's timers run at now: the clock is latched to it first. */
  timerCount(): number;
}

/** One machine's hooks into v86. */
export class V86Hooks {
  /** JIT code compiled during the current slice, installed when it ends. */
  readonly compiled: (() => void)[] = [];
  /** `Date` while this machine runs: the guest's time. */
  private readonly date: DateConstructor;
  /** v86's run_hardware_timers as wrapped: main_loop calls it, and so does single-instruction stepping. */
  runTimers!: (acpi: boolean, now: number) => number;
  /** The patched v86 wasm's exports, once v86 has asked for them. */
  exports: v86.WasmExports | undefined;

  /** `now` is the guest's wall-clock time (ms since the epoch). */
  constructor(private readonly machine: HookedMachine, now: () => number) {
    this.date = guestDate(now);
  }

  /** v86's `wasm_fn`: instantiates the patched v86 wasm (v86wasm.ts) with the machine's imports. */
  async instantiate(imports: { env: Record<string, unknown> }): Promise<v86.WasmExports> {
    const { env } = imports;
    const { machine } = this;
    const runHardwareTimers = env.run_hardware_timers as (acpi: boolean, now: number) => number;
    env.microtick = () => machine.clock.read();
    env.get_rand_int = () => machine.random();
    // main_loop passes its own clock reading; the timers run at the latched count's instead.
    this.runTimers = (acpi: boolean) => {
      machine.clock.latch(machine.timerCount());
      return runHardwareTimers(acpi, machine.clock.read());
    };
    env.run_hardware_timers = this.runTimers;
    const instance = new WebAssembly.Instance(v86Module().module, imports as WebAssembly.Imports);
    this.exports = instance.exports as unknown as v86.WasmExports;
    return this.exports;
  }

  /** v86's microtick is process-wide: route it to the machine that is running, and to the host for plain v86. */
  static routeMicrotick(emulator: v86.Emulator): void {
    const internal = emulator.v86.constructor as unknown as v86.V86Internal & { hostMicrotick?: () => number };
    internal.hostMicrotick ??= internal.microtick;
    const hostMicrotick = internal.hostMicrotick;
    internal.microtick = () => (active ? active.machine.clock.read() : hostMicrotick());
  }

  /** Makes this machine the one whose code runs: routes v86's global hooks to it for `body`. */
  activate<T>(body: () => T): T {
    const previous = active;
    /* eslint-disable-next-line @typescript-eslint/no-this-alias --
       v86's hooks are global: they reach the running machine here */
    active = this;
    globalThis.Date = this.date;
    WebAssembly.instantiate = instantiateAtSliceEnd as typeof WebAssembly.instantiate;
    try {
      return body();
    } finally {
      active = previous;
      globalThis.Date = previous?.date ?? HostDate;
      if (!previous) WebAssembly.instantiate = hostInstantiate;
    }
  }

  /** At the end of a slice: installs the JIT code compiled during it. */
  installCompiled(): void {
    for (const install of this.compiled.splice(0)) install();
  }
}
