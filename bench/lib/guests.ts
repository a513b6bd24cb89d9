// In-process guest runs for benchmarks: the same built-in image on plain v86 (started the ordinary way)
// and on a Lockstep Machine, each timed from its first instruction to a given serial output line.
import { V86 } from 'v86';
import {
  BuiltinGuest,
  GuestImage,
  loadImage,
  Machine,
  MachineOptions,
  RecordedEvent,
  Recorder,
  v86WasmPath,
} from '../../src/ft/machine';
import { liftoffFromNowOn, v8TiersFromNowOn, type JitTier } from '../../src/ft/machine/jittier';
import { InputScript } from '../../src/ft/commands';

export interface GuestRun {
  /** Wall time from the first instruction to the end of the awaited output line. */
  ms: number;
  /** Instructions executed in that time. */
  instructions: number;
  mips: number;
  /** The serial output up to and including the awaited line. */
  serial: string;
}

/** The built-in guests and the linux guest (built by npm run build:linux). */
export type BenchGuest = BuiltinGuest | 'linux';

const images = new Map<string, GuestImage>();

export function image(guest: BenchGuest): GuestImage {
  let found = images.get(guest);
  if (!found) images.set(guest, (found = loadImage(guest)));
  return found;
}

function arrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

// ---------------------------------------------------------------------------------------------
// Plain v86

interface V86Internal { microtick: () => number }
type PlainEmulator = {
  v86: { cpu: { instruction_counter: Uint32Array }; constructor: unknown };
  add_listener(event: string, listener: (data: never) => void): void;
  stop(): Promise<void> | void;
  destroy(): Promise<void> | void;
};

/** What v86 binds its clock to in Node when its module loads. */
const hostMicrotick = performance.now.bind(performance);
let v86Internal: V86Internal | undefined;

/**
 * v86's class-wide clock. A Machine points it at itself (`() => active!.clock.read()`) for good, and a
 * plain emulator created afterwards in the same process captures that function and fails with
 * "Cannot read properties of undefined (reading 'clock')". Plain runs here put the host clock back
 * for their duration (the class is reached through a small throwaway Machine, once).
 */
async function internalClass(): Promise<V86Internal> {
  if (!v86Internal) {
    const machine = await Machine.create({ image: image('spin'), nondet: new Recorder(() => undefined), memoryMiB: 4 });
    v86Internal = (machine as unknown as { emulator: PlainEmulator }).emulator.v86.constructor as V86Internal;
    machine.destroy();
  }
  return v86Internal;
}

/** A multiboot kernel as such; a guest with its own boot files (linux) as v86 takes them: BIOS, bzImage, initrd. */
function bootFiles(guest: GuestImage): Record<string, unknown> {
  if (!guest.boot) return { multiboot: { buffer: arrayBuffer(guest.bytes) } };
  const { bios, vgaBios, initrd } = guest.boot;
  return {
    bios: { buffer: arrayBuffer(bios) },
    vga_bios: { buffer: arrayBuffer(vgaBios) },
    bzimage: { buffer: arrayBuffer(guest.bytes) },
    ...(initrd ? { initrd: { buffer: arrayBuffer(initrd) } } : {}),
  };
}

export interface PlainOptions {
  guest: BenchGuest;
  cmdline: string;
  /** The run ends at the first output line that matches. */
  until: RegExp;
  memoryMiB?: number;
  jit?: boolean;
  timeoutMs?: number;
  /**
   * 'liftoff': the JIT's modules in Liftoff alone, as Lockstep compiles them (src/ft/machine/jittier.ts):
   * from emulator-started, when v86.wasm is compiled, to the end of the run. Default: V8's own tiers.
   */
  jitTier?: JitTier;
}

/**
 * Plain v86 from npm, started the ordinary way (`new V86({ multiboot, autostart: true })`), timed from
 * `emulator-started` to the end of the awaited line; instructions from `cpu.instruction_counter[0]`
 * (a 32-bit counter: runs stay below 2^32 instructions).
 */
export async function runPlainV86(options: PlainOptions): Promise<GuestRun> {
  const G = await internalClass();
  const saved = G.microtick;
  G.microtick = hostMicrotick;
  try {
    return await new Promise<GuestRun>((resolve, reject) => {
      const V86Class = V86 as unknown as new (settings: Record<string, unknown>) => PlainEmulator;
      const emulator = new V86Class({
        ...bootFiles(image(options.guest)),
        cmdline: options.cmdline,
        memory_size: (options.memoryMiB ?? 32) * 1024 * 1024,
        vga_memory_size: 2 * 1024 * 1024,
        wasm_path: v86WasmPath(),
        autostart: true,
        disable_jit: options.jit === false,
        disable_speaker: true,
        disable_keyboard: true,
        disable_mouse: true,
        acpi: false,
        log_level: 0,
      });
      let started = 0;
      let startCounter = 0;
      let serial = '';
      let lineStart = 0;
      let finished = false;
      const timer = setTimeout(() => {
        finished = true;
        void emulator.destroy();
        reject(new Error(`plain v86 ${options.guest}: no ${options.until} after ${options.timeoutMs} ms; output: ${JSON.stringify(serial.slice(-200))}`));
      }, options.timeoutMs ?? 300_000);
      emulator.add_listener('emulator-started', () => {
        if (options.jitTier === 'liftoff') liftoffFromNowOn();
        started = performance.now();
        startCounter = emulator.v86.cpu.instruction_counter[0];
      });
      emulator.add_listener('serial0-output-byte', (byte: number) => {
        if (finished) return;
        serial += String.fromCharCode(byte);
        if (byte !== 10) return;
        const line = serial.slice(lineStart);
        lineStart = serial.length;
        if (!options.until.test(line)) return;
        const ms = performance.now() - started;
        const instructions = (emulator.v86.cpu.instruction_counter[0] - startCounter) >>> 0;
        finished = true;
        clearTimeout(timer);
        void emulator.stop();
        // Let the current main_loop() return before tearing the emulator down.
        setImmediate(() => {
          void emulator.destroy();
          resolve({ ms, instructions, mips: instructions / ms / 1000, serial });
        });
      });
    });
  } finally {
    G.microtick = saved;
    if (options.jitTier === 'liftoff') v8TiersFromNowOn();
  }
}

// ---------------------------------------------------------------------------------------------
// Lockstep

export interface LockstepOptions extends Omit<MachineOptions, 'image' | 'nondet'> {
  guest: BenchGuest;
  until: RegExp;
  /** Serial input, fed as `lockstep run --input` does. */
  input?: InputScript;
  /** Every recorded event (nondeterministic value or input), as it is logged. */
  onRecord?: (event: RecordedEvent) => void;
  /** Called with every output chunk and with every epoch, as a primary would log them. */
  onOutput?: (data: Uint8Array, at: number) => void;
  onEpoch?: (epoch: { index: number; at: number; hash: string; pages: number }) => void;
  /** Instructions to run before the clock starts (excluded from the figure). */
  warmupInstructions?: number;
  maxInstructions?: number;
}

/**
 * A Lockstep Machine with a Recorder (as `lockstep run` and a primary use it), stepped boundary by
 * boundary, timed from its first instruction (boot excluded, like plain v86's emulator-started) to the
 * end of the step that printed the awaited line.
 */
export async function runLockstep(options: LockstepOptions): Promise<GuestRun> {
  const {
    guest,
    until,
    input,
    onRecord,
    onOutput,
    onEpoch,
    warmupInstructions,
    maxInstructions,
    ...machineOptions
  } = options;
  const recorder = new Recorder((event) => onRecord?.(event));
  const machine = await Machine.create({ ...machineOptions, image: image(guest), nondet: recorder });
  try {
    let serial = '';
    let lineStart = 0;
    let done: { t: number; at: number } | undefined;
    machine.on({
      output: (data, at) => {
        onOutput?.(data, at);
        serial += Buffer.from(data).toString('latin1');
        for (let nl = serial.indexOf('\n', lineStart); nl >= 0 && !done; nl = serial.indexOf('\n', lineStart)) {
          const line = serial.slice(lineStart, nl + 1);
          lineStart = nl + 1;
          if (until.test(line)) done = { t: performance.now(), at };
        }
      },
      epoch: (epoch) => onEpoch?.({ index: epoch.index, at: epoch.at, hash: epoch.hash, pages: epoch.pages.length }),
    });
    if (warmupInstructions) machine.run(warmupInstructions);
    const limit = maxInstructions ?? Number.MAX_SAFE_INTEGER;
    const started = performance.now();
    const startCount = machine.instructions;
    while (!done && !machine.isEnded && machine.instructions < limit) {
      const data = input?.due(machine.instructions, machine.serialInputPending === 0);
      if (data) recorder.queue('serial', data);
      machine.runSlice();
      // As `lockstep run` and a primary do: a halted guest under the host clock waits for its next timer.
      if (machine.waitsForHostTime) await new Promise((resolve) => setTimeout(resolve, Math.min(machine.idleHint, 10)));
    }
    if (!done) throw new Error(`lockstep ${guest}: no ${until} before ${machine.isEnded ? 'the guest ended' : 'the instruction limit'}; output: ${JSON.stringify(serial.slice(-200))}`);
    const ms = done.t - started;
    const instructions = done.at - startCount;
    return { ms, instructions, mips: instructions / ms / 1000, serial: serial.slice(0, lineStart) };
  } finally {
    machine.destroy();
  }
}
