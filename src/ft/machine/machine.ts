// The deterministic machine: a v86 emulator whose execution is a pure function of its starting state
// and its logged inputs, JIT on. Everything about determinism lives here and in clock.ts/nondet.ts:
//  - it advances only in steps between boundaries that depend on guest execution alone (slice ends,
//    see v86wasm.ts), each named by its 64-bit instruction count;
//  - time comes from a latched Clock, randomness and inputs from a Nondeterminism;
//  - JIT compilation is synchronous, so compiled code lands at a point fixed by the guest (and the
//    same wasm is compiled once per process, jitmodules.ts);
//  - at every epoch boundary the JIT cache is emptied, so a machine restored there starts from the
//    same JIT state as the original.
// Idle time counts as instructions at the nominal rate (like QEMU's icount): a halted guest still
// advances the count, so every step moves it forward and no two boundaries share a name.
// Inside a step it can also execute single instructions (stepTo), given the StepRecord a whole-step
// run emitted for it, to stop at any exact count (see interpreter.ts and docs/debugging.md).
import { V86 as V86Class } from 'v86';
import { Clock, ClockMode, INSTRUCTIONS_PER_MS, createClock } from './clock';
import { GuestImage } from './image';
import { Nondeterminism, InputEvent } from './nondet';
import { StateHasher, differingPages, hashBytes, loadHasher, pageHashes, stateHash } from './hash';
import { jitModules } from './jitmodules';
import { Interpreter } from './interpreter';
import { TscState } from './tsc';
import { v86Module } from './v86wasm';
import * as v86 from './v86types';

export const DEFAULT_EPOCH_LENGTH = 100_000_000;
export const DEFAULT_MEMORY_MIB = 32;
/** The NE2000's MAC on every machine: locally administered, unicast (the backup takes over the same one). */
export const GUEST_MAC = Uint8Array.of(0x02, 0x4c, 0x53, 0x00, 0x00, 0x01);
const FLAG_INTERRUPT = 0x200;
/** Smallest idle skip, so a masked timer that is always "due" cannot stall the count. */
const MIN_IDLE_MS = 0.001;
/**
 * Epochs come every E executed instructions, so an idle guest does not hash its memory over and
 * over; but at least every IDLE_EPOCH_FACTOR·E of count (idle time included), so an idle guest still
 * gets divergence checks and checkpoints (a new backup is cloned at one).
 */
const IDLE_EPOCH_FACTOR = 10;
/** Largest idle skip: bounds how far past a wanted instruction count an input can land. */
const MAX_IDLE_MS = 1;
/**
 * CPU fields that v86's save_state stores as its view objects instead of their values, so that
 * restore_state neither restores them nor leaves the views in place: snapshots carry them.
 */
const UNSAVED_CPU_FIELDS = ['last_result', 'fpu_status_word', 'mxcsr'] as const;
/** What main_loop returns for a guest halted with interrupts off. */
const DEAD_IDLE_MS = 100;

export interface BiosFiles { bios: Uint8Array; vgaBios: Uint8Array; initrd?: Uint8Array }

export interface MachineOptions {
  image: GuestImage;
  nondet: Nondeterminism;
  cmdline?: string;
  memoryMiB?: number;
  jit?: boolean;
  clock?: ClockMode;
  epochLength?: number;
  /** Required for anything but a multiboot kernel. */
  bios?: BiosFiles;
  /** The devices in the state hash: all of HASHED_DEVICES, unless a log recorded with fewer is checked. */
  hashedDevices?: readonly v86.HashedDevice[];
}

export interface Epoch {
  index: number;
  at: number;
  hash: string;
  pages: BigUint64Array;
}

export interface MachineEvents {
  /** Bytes the guest wrote to the serial port during the step that ended at `at`. */
  output?: (data: Uint8Array, at: number) => void;
  /** An Ethernet frame the guest's NE2000 sent during the step that ended at `at`. */
  frame?: (frame: Uint8Array, at: number) => void;
  /** An epoch boundary was reached; the machine is canonical and may be checkpointed here. */
  epoch?: (epoch: Epoch) => void;
  /** An input was delivered to the guest. */
  input?: (input: InputEvent) => void;
  /** A whole step ended (after its epoch, if it reached one). */
  step?: (step: StepRecord) => void;
}

/** Why run() returned: the limit, the guest's end, host time to wait for, or its caller's `pause`. */
export type RunEnd = 'limit' | 'halted' | 'idle' | 'paused';

/** One step as a whole-step run executed it: enough to execute it again one instruction at a time. */
export interface StepRecord {
  /** The boundaries it started and ended at. */
  from: number;
  to: number;
  /**
   * The counts v86's timers ran with, in order: at a halted start, mid-slice when the guest executed
   * HLT, and at the end. Mid-slice, v86 reads a counter that moves only at block ends, so the count it
   * sees depends on the JIT's blocks: a run that steps single instructions must be told it.
   */
  timers: number[];
  /**
   * Idle time at the end of the step, as instructions: a step that starts halted skips ahead when the
   * guest is halted again at its end (or is the end: 1). It is the whole step when the guest never woke.
   */
  idle: number;
}

/** Why `stepTo` returned. */
export type InstructionStop = 'target' | 'breakpoint' | 'end of step';

/** Executing a step one instruction at a time did not reproduce what the whole-step run recorded. */
export class StepDivergence extends Error {
  override name = 'StepDivergence';
}

/** The step a machine is executing one instruction at a time. */
interface Stepping {
  step: StepRecord;
  /** v86's counter when the step began. */
  counter: number;
  /** How many of the step's recorded timer runs have happened. */
  timers: number;
  startedHalted: boolean;
  /** What main_loop returned when the slice ended halted with the step's idle time still to skip. */
  idlePending?: number;
}

/** The machine whose code is running right now (v86's device code reads time through a global). */
let active: Machine | undefined;
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
 * state lock while it asks for the compile.
 */
function instantiateAtSliceEnd(bytes: BufferSource, imports?: WebAssembly.Imports) {
  const module = jitModules.compile(bytes);
  const result = { module, instance: new WebAssembly.Instance(module, imports) };
  const deferred = {
    then(onResult: (r: typeof result) => unknown) { active!.compiled.push(() => onResult(result)); return deferred; },
    catch() { return deferred; },
  };
  return deferred;
}

export class Machine {
  readonly options: Required<Omit<MachineOptions, 'bios' | 'cmdline'>> & Pick<MachineOptions, 'bios' | 'cmdline'>;
  readonly clock: Clock;
  private nondet: Nondeterminism;
  private emulator!: v86.Emulator;
  private cpu!: v86.Cpu;
  private tsc!: TscState;
  private count = 0;
  private idleInstructions = 0;
  private fastA20 = 0;
  private lastCounter = 0;
  /** The guest's wall-clock time at power-on; taken (logged) before the first step, not at create. */
  private rtcStart: number | undefined;
  /** `Date` while this machine runs: the guest's time (RTC power-on time plus its clock). */
  private readonly date = guestDate(() => Math.floor((this.rtcStart ?? 0) + this.clock.peek()));
  private idleMs = 0;
  private outputBuffer: number[] = [];
  private framesSent: Uint8Array[] = [];
  private ended = false;
  /** When the next epoch is due: E more executed instructions, or IDLE_EPOCH_FACTOR·E of count. */
  private epochs = { index: 0, nextExecuted: 0, nextCount: 0 };
  private lastEpoch: Epoch | undefined;
  private listeners: MachineEvents = {};
  private observers: MachineEvents[] = [];
  private interpreter!: Interpreter;
  private unsavedViews!: Int32Array[];
  private runTimers!: (acpi: boolean, now: number) => number;
  /** Timer counts of the whole step in progress. */
  private stepTimers: number[] = [];
  private stepping: Stepping | undefined;
  /** Instructions were executed singly since the last restore, so the JIT state is not a whole-step run's. */
  private stepped = false;
  /** JIT code compiled during the current slice, installed when it ends. */
  readonly compiled: (() => void)[] = [];

  private constructor(options: MachineOptions) {
    this.options = {
      ...options,
      memoryMiB: options.memoryMiB ?? DEFAULT_MEMORY_MIB,
      jit: options.jit ?? true,
      clock: options.clock ?? 'virtual',
      epochLength: options.epochLength ?? DEFAULT_EPOCH_LENGTH,
      hashedDevices: options.hashedDevices ?? v86.HASHED_DEVICES,
    };
    this.nondet = options.nondet;
    this.clock = createClock(this.options.clock, () => this.nondet);
    this.epochs = { index: 0, nextExecuted: this.options.epochLength, nextCount: IDLE_EPOCH_FACTOR * this.options.epochLength };
  }

  /** Boots a machine (stopped at instruction 0, before the guest's first instruction). */
  static async create(options: MachineOptions): Promise<Machine> {
    validate(options);
    await loadHasher();
    const machine = new Machine(options);
    await machine.start();
    return machine;
  }

  /**
   * Takes the RTC's power-on time from the nondeterminism source. It happens at the first step rather
   * than in create(), so a backup can boot its machine before the first log entry has arrived.
   */
  private powerOn(): void {
    if (this.rtcStart !== undefined) return;
    this.rtcStart = this.nondet.rtc(this.count);
    this.startRtc();
  }

  /**
   * v86's RTC takes the host's Date.now() when it is made, and keeps it until its first timer run: set
   * it to what the guest's clock says at power-on, so the boot state depends on the RTC value alone.
   */
  private startRtc(): void {
    const rtc = this.cpu.devices.rtc;
    rtc.rtc_time = rtc.last_update = Math.floor(this.rtcStart! + this.clock.peek());
  }

  private async start(): Promise<void> {
    const { image, cmdline, memoryMiB, jit } = this.options;
    const bios = this.options.bios ?? image.boot;
    const settings: Record<string, unknown> = {
      wasm_fn: (env: { env: Record<string, unknown> }) => this.instantiate(env),
      memory_size: memoryMiB * 1024 * 1024,
      vga_memory_size: 2 * 1024 * 1024,
      autostart: false,
      disable_jit: !jit,
      disable_speaker: true,
      disable_keyboard: true,
      disable_mouse: true,
      acpi: false,
      cmdline: cmdline ?? '',
      log_level: 0,
      // Without it v86 restores neither the NE2000's MAC nor its card memory from a snapshot.
      preserve_mac_from_state_image: true,
    };
    if (image.kind === 'multiboot') settings.multiboot = { buffer: arrayBuffer(image.bytes) };
    else attachBiosImage(settings, image, bios!);
    const V86 = V86Class as unknown as v86.V86Constructor;
    this.emulator = await new Promise<v86.Emulator>((resolve) => {
      const emulator = new V86(settings);
      emulator.add_listener('emulator-loaded', () => resolve(emulator));
    });
    this.cpu = this.emulator.v86.cpu;
    v86.checkV86Internals(this.cpu);
    this.interpreter = new Interpreter(this.cpu.wasm_memory, this.cpu, this.wasmExports!);
    this.unsavedViews = UNSAVED_CPU_FIELDS.map((field) => this.cpu[field]);
    this.tsc = new TscState(this.cpu.wasm_memory);
    this.emulator.add_listener('serial0-output-byte', (byte: number) => this.outputBuffer.push(byte));
    // v86 hands over a view of the card's memory: copy it before the guest reuses the buffer.
    this.emulator.add_listener('net0-send', (frame: Uint8Array) => this.framesSent.push(frame.slice()));
    this.lastCounter = this.cpu.instruction_counter[0];
    const internal = this.emulator.v86.constructor as unknown as v86.V86Internal & { hostMicrotick?: () => number };
    internal.hostMicrotick ??= internal.microtick;
    const hostMicrotick = internal.hostMicrotick;
    // Process-wide in v86: route it to the machine that is running, and to the host for plain v86.
    internal.microtick = () => (active ? active.clock.read() : hostMicrotick());
    this.emulator.v86.cpu.devices.pci.set_state = restorePciState(this.emulator.v86.cpu.devices.pci);
    this.ownFastA20Port();
    this.fixMac();
  }

  /**
   * v86 gives its NE2000 (always on the PCI bus) a MAC from Math.random: a guest that reads it would
   * differ from its backup and from its replay. Every machine gets GUEST_MAC instead, in the card's
   * MAC and in its PROM (each byte twice, as v86 lays it out).
   */
  private fixMac(): void {
    const { mac, memory } = this.cpu.devices.net;
    mac.set(GUEST_MAC);
    GUEST_MAC.forEach((byte, i) => { memory[2 * i] = memory[2 * i + 1] = byte; });
  }

  /**
   * v86 keeps the fast-A20 byte (port 0x92) in a closure, outside its snapshot, and a BIOS reads it
   * back: a restored machine would see 0 where the original sees what it wrote. Keep it here instead.
   */
  private ownFastA20Port(): void {
    this.cpu.io.register_read(0x92, this, () => this.fastA20);
    this.cpu.io.register_write(0x92, this, (value: number) => { this.fastA20 = value; });
  }

  private wasmExports: v86.WasmExports | undefined;

  private async instantiate(imports: { env: Record<string, unknown> }): Promise<v86.WasmExports> {
    const env = imports.env;
    const runHardwareTimers = env.run_hardware_timers as (acpi: boolean, now: number) => number;
    env.microtick = () => this.clock.read();
    env.get_rand_int = () => this.nondet.random(this.count);
    this.runTimers = (acpi: boolean) => {
      if (this.stepping) this.count = this.recordedTimer(this.stepping);
      else {
        this.syncCount();
        this.stepTimers.push(this.count);
      }
      this.clock.latch(this.count);
      return runHardwareTimers(acpi, this.clock.read());
    };
    env.run_hardware_timers = this.runTimers;
    const instance = new WebAssembly.Instance(v86Module().module, imports as WebAssembly.Imports);
    this.wasmExports = instance.exports as unknown as v86.WasmExports;
    return this.wasmExports;
  }

  /** Where nondeterministic values come from from now on (record live, or replay a log). */
  useNondeterminism(nondet: Nondeterminism): void {
    this.nondet = nondet;
  }

  on(events: MachineEvents): void {
    this.listeners = { ...this.listeners, ...events };
  }

  /** Listens as well, beside `on`'s listeners and other observers; returns how to stop. */
  observe(events: MachineEvents): () => void {
    this.observers.push(events);
    return () => { this.observers = this.observers.filter((o) => o !== events); };
  }

  private emit<K extends keyof MachineEvents>(event: K, ...args: Parameters<NonNullable<MachineEvents[K]>>): void {
    for (const listeners of [this.listeners, ...this.observers]) {
      (listeners[event] as ((...a: typeof args) => void) | undefined)?.(...args);
    }
  }

  /** The 64-bit instruction count (idle time included at the nominal rate). */
  get instructions(): number {
    const stepping = this.stepping;
    if (!stepping) return this.count;
    return stepping.step.from + ((this.interpreter.counter - stepping.counter) >>> 0);
  }

  /** Halted with interrupts disabled: the guest can never run again. */
  get isEnded(): boolean {
    return this.ended;
  }

  get isHalted(): boolean {
    return this.cpu.in_hlt[0] !== 0;
  }

  /** How long the guest would idle (ms of guest time) before its next timer, when halted. */
  get idleHint(): number {
    return this.isHalted ? this.idleMs : 0;
  }

  get epoch(): Epoch | undefined {
    return this.lastEpoch;
  }

  /** Serial input bytes delivered but not yet read by the guest. */
  get serialInputPending(): number {
    return this.serialInput.length;
  }

  /** v86 keeps received serial bytes outside its own snapshot, so ours carries them. */
  private get serialInput(): number[] {
    return this.cpu.devices.uart0.input;
  }

  get guestTimeMs(): number {
    return this.clock.peek();
  }

  /** Runs until the count reaches `limit` (at the first boundary at or past it), or the guest ends. */
  run(limit: number, pause?: () => boolean): RunEnd {
    return this.activate(() => {
      while (!this.ended && this.count < limit) {
        this.stepActive();
        if (this.waitsForHostTime) return 'idle';
        if (pause?.()) return 'paused';
      }
      return this.ended ? 'halted' : 'limit';
    });
  }

  /**
   * Halted with the host clock: the guest's next timer is `idleHint` ms of real time away, so the
   * caller should wait (or deliver input) rather than step again at once.
   */
  get waitsForHostTime(): boolean {
    return this.options.clock === 'host' && this.isHalted && !this.ended;
  }

  /** One step: delivers the inputs due at this boundary, then runs to the next boundary. */
  step(): void {
    this.activate(() => this.stepActive());
  }

  private stepActive(): void {
    if (this.ended) return;
    if (this.stepped) throw new Error(`instructions were stepped singly since the last restore (now at ${this.instructions}): restore a checkpoint before running whole steps`);
    this.powerOn();
    this.deliverInputs();
    const before = this.count;
    this.stepTimers = [];
    const idle = this.isHalted ? this.stepHalted() : (this.mainLoop(), 0);
    this.syncCount();
    if (this.count === before) throw new Error(`machine did not advance at instruction ${before}`);
    this.flushOutput();
    if (this.executedInstructions >= this.epochs.nextExecuted || this.count >= this.epochs.nextCount) this.reachEpoch();
    this.emit('step', { from: before, to: this.count, timers: this.stepTimers, idle });
  }

  /** One slice; JIT code it compiled is installed at its end. */
  private mainLoop(): number {
    const idleMs = this.cpu.main_loop();
    for (const install of this.compiled.splice(0)) install();
    return idleMs;
  }

  /** Returns the idle time skipped at the end, as instructions (0 when the guest is running). */
  private stepHalted(): number {
    this.idleMs = this.mainLoop();
    if (!this.isHalted) return 0;
    const before = this.count;
    this.skipIdle();
    return this.count - before;
  }

  /** The guest stays halted: count its idle time (or, with interrupts off, its end) as instructions. */
  private skipIdle(): void {
    if (!(this.cpu.flags[0] & FLAG_INTERRUPT)) {
      this.ended = true;
      this.idle(1);
      return;
    }
    this.idle(Math.round(Math.min(Math.max(this.idleMs, MIN_IDLE_MS), MAX_IDLE_MS) * INSTRUCTIONS_PER_MS));
    this.clock.latch(this.count);
  }

  /** Idle time moves the count (it names boundaries) but not the epochs (they count executed instructions). */
  private idle(instructions: number): void {
    this.count += instructions;
    this.idleInstructions += instructions;
  }

  /** Instructions the guest actually executed: what epochs are measured in, so an idle guest hashes nothing. */
  get executedInstructions(): number {
    return this.count - this.idleInstructions;
  }

  private deliverInputs(): void {
    for (const input of this.nondet.inputsAt(this.count)) {
      this.deliver(input);
      this.emit('input', input);
    }
  }

  private deliver(input: InputEvent): void {
    const bus = this.emulator.bus;
    if (input.device === 'serial') for (const byte of input.data) bus.send('serial0-input', byte);
    else if (input.device === 'keyboard') for (const byte of input.data) bus.send('keyboard-code', byte);
    else bus.send('net0-receive', input.data);
  }

  private syncCount(): void {
    const counter = this.cpu.instruction_counter[0];
    this.count += (counter - this.lastCounter) >>> 0;
    this.lastCounter = counter;
  }

  /** Output leaves at the end of the slice that produced it: its count is where the Output Rule holds it. */
  private flushOutput(): void {
    for (const frame of this.framesSent.splice(0)) this.emit('frame', frame, this.count);
    if (!this.outputBuffer.length) return;
    const data = Uint8Array.from(this.outputBuffer);
    this.outputBuffer = [];
    this.emit('output', data, this.count);
  }

  private reachEpoch(): void {
    this.canonicalize();
    const pages = pageHashes(this.memory);
    const epoch: Epoch = {
      index: ++this.epochs.index,
      at: this.count,
      hash: stateHash(pages, this.cpuAndDeviceHash()),
      pages,
    };
    const length = this.options.epochLength;
    this.epochs.nextExecuted = (Math.floor(this.executedInstructions / length) + 1) * length;
    this.epochs.nextCount = this.count + IDLE_EPOCH_FACTOR * length;
    this.lastEpoch = epoch;
    this.emit('epoch', epoch);
  }

  /** Empties the JIT cache: a restored machine starts with an empty one, so both must match here. */
  private canonicalize(): void {
    this.cpu.jit_clear_cache();
  }

  /** Guest RAM (a view into v86's memory; valid until the next step). */
  get memory(): Uint8Array {
    return this.cpu.mem8.subarray(0, this.options.memoryMiB * 1024 * 1024);
  }

  /**
   * Hashes of everything but guest RAM, one per component (CPU registers, each device, our own
   * counters), so a divergence report can say which part differs.
   */
  componentHashes(): Record<string, bigint> {
    const cpu = this.cpu;
    const hash = (value: unknown) => new StateHasher().add(value).digest();
    const components: Record<string, bigint> = {
      cpu: hash(v86.CPU_STATE_FIELDS.map((field) => cpu[field])),
      pic: hash(cpu.get_state_pic()),
      'serial input': hash(this.serialInput),
      tsc: hash(this.tsc.read()),
      ports: hash([this.fastA20, this.cpu.fw_pointer]),
      clock: hash([this.count, this.idleInstructions, this.clock.state.last, this.clock.state.base, this.rtcStart ?? null]),
    };
    for (const name of this.options.hashedDevices) components[name] = hash(cpu.devices[name] ?? null);
    return components;
  }

  /** Hash of everything but guest RAM. */
  cpuAndDeviceHash(): bigint {
    return hashBytes(new BigUint64Array(Object.values(this.componentHashes())));
  }

  /** The full state hash now (canonicalizes first, as an epoch does). */
  currentHash(): string {
    this.canonicalize();
    return stateHash(pageHashes(this.memory), this.cpuAndDeviceHash());
  }

  /** Pages that differ between this machine's last epoch and another's. */
  static differingPages(a: Epoch, b: Epoch): number[] {
    return differingPages(a.pages, b.pages);
  }

  /** Makes this machine the one whose code runs: routes v86's global hooks to it for `body`. */
  private activate<T>(body: () => T): T {
    const previous = active;
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

  // ---- single instructions ----

  /**
   * Executes guest instructions one at a time, as v86's interpreter does, towards count `target`,
   * inside the step `step` describes (recorded by a whole-step run; the machine is at its start or
   * inside it). Stops at `target`, or one below it when the next instruction is an STI (v86 executes
   * it together with the instruction after it); at the end of the step, having done there what
   * main_loop does, so the machine is at that boundary exactly as a whole step leaves it; or before an
   * instruction whose EIP `stopBefore` accepts. An idle step cannot be entered: the machine stays at
   * its start until `target` reaches its end, then skips it whole.
   * Afterwards the machine is stepped (its JIT state is not a whole-step run's): it shows the guest's
   * state exactly, and refuses whole steps and snapshots until a checkpoint is restored.
   */
  stepTo(target: number, step: StepRecord, stopBefore?: (eip: number) => boolean): InstructionStop {
    return this.activate(() => {
      if (!this.stepping) {
        if (step.from !== this.count) throw new RangeError(`the step starts at ${step.from}, the machine is at boundary ${this.count}`);
        const neverWakes = step.idle === step.to - step.from;
        if (this.ended || target <= this.count || (neverWakes && target < step.to)) return 'target';
        // No instruction runs in it, so a whole step perturbs nothing.
        if (neverWakes && !this.stepped) this.stepActive();
        else this.enterStep(step);
        if (!this.stepping) return target <= this.count ? 'target' : 'end of step';
      } else if (this.stepping.step.from !== step.from) {
        throw new RangeError(`the machine is inside the step from ${this.stepping.step.from}, not the one from ${step.from}`);
      }
      if (this.stepping.idlePending === undefined) return this.stepInside(this.stepping, target, stopBefore);
      return this.skipPendingIdle(this.stepping, target);
    });
  }

  /** Whether instructions were stepped singly since the last restore. */
  get isStepped(): boolean {
    return this.stepped;
  }

  /** Whether the machine is inside a step it executes one instruction at a time (not at a boundary). */
  get isInsideStep(): boolean {
    return this.stepping !== undefined;
  }

  /**
   * What main_loop does before its first block: inputs, a clock reading and, when halted, the timers
   * and IRQs; if the guest stays halted the step is an idle skip, done here whole.
   */
  private enterStep(step: StepRecord): void {
    this.powerOn();
    this.deliverInputs();
    const stepping: Stepping = { step, counter: this.interpreter.counter, timers: 0, startedHalted: this.isHalted };
    this.stepping = stepping;
    this.stepped = true;
    const start = this.clock.read();
    if (!this.isHalted) return;
    const interrupts = (this.cpu.flags[0] & FLAG_INTERRUPT) !== 0;
    const timerMs = interrupts ? this.runTimers(this.acpi, start) : DEAD_IDLE_MS;
    if (interrupts) this.cpu.handle_irqs();
    if (this.isHalted) this.finishIdle(stepping, timerMs);
  }

  private stepInside(stepping: Stepping, target: number, stopBefore?: (eip: number) => boolean): InstructionStop {
    const { step } = stepping;
    const sliceEnd = step.to - step.idle;
    const interpreter = this.interpreter;
    for (;;) {
      const at = this.instructions;
      if (at === sliceEnd) return this.endSlice(stepping, target);
      if (at > sliceEnd || interpreter.halted) {
        throw new StepDivergence(`stepping diverged from the recorded run: ${interpreter.halted ? 'halted' : 'still running'} at ${at}, the slice ends at ${sliceEnd}`);
      }
      if (stopBefore?.(interpreter.eip)) return 'breakpoint';
      if (at >= target || (at + 1 === target && interpreter.nextIsSti())) return 'target';
      // In bulk up to the last instruction before the target, which needs the STI check above.
      const bulk = Math.min(target - 1, sliceEnd) - at;
      if (bulk > 0) interpreter.run(bulk, stopBefore);
      else interpreter.execute();
    }
  }

  /** What main_loop does after the slice's last block: a clock reading, the timers, IRQs. */
  private endSlice(stepping: Stepping, target: number): InstructionStop {
    const timerMs = this.runTimers(this.acpi, this.clock.read());
    this.cpu.handle_irqs();
    if (!stepping.step.idle) {
      if (stepping.startedHalted) this.idleMs = 0;
      this.count = stepping.step.to;
      this.leaveStep(stepping);
      return target <= this.count ? 'target' : 'end of step';
    }
    if (!this.isHalted) throw new StepDivergence(`stepping diverged from the recorded run: running at ${this.instructions}, recorded halted`);
    stepping.idlePending = timerMs;
    return this.skipPendingIdle(stepping, target);
  }

  /** The guest is halted at the end of the slice: stays there, or skips the step's idle time. */
  private skipPendingIdle(stepping: Stepping, target: number): InstructionStop {
    if (target < stepping.step.to) return 'target';
    this.finishIdle(stepping, stepping.idlePending!);
    return target <= this.count ? 'target' : 'end of step';
  }

  private finishIdle(stepping: Stepping, mainLoopMs: number): void {
    this.idleMs = mainLoopMs;
    this.count = this.instructions;
    this.skipIdle();
    this.leaveStep(stepping);
  }

  private leaveStep(stepping: Stepping): void {
    const { step } = stepping;
    if (this.count !== step.to || stepping.timers !== step.timers.length) {
      throw new StepDivergence(`stepping diverged from the recorded run: the step from ${step.from} ended at ${this.count} after ${stepping.timers} timer runs, recorded ${step.to} after ${step.timers.length}`);
    }
    this.lastCounter = this.cpu.instruction_counter[0];
    this.stepping = undefined;
    this.flushOutput();
  }

  private recordedTimer(stepping: Stepping): number {
    const at = stepping.step.timers[stepping.timers++];
    if (at === undefined) throw new StepDivergence(`stepping diverged from the recorded run: more timer runs than the ${stepping.step.timers.length} recorded in the step from ${stepping.step.from}`);
    return at;
  }

  private get acpi(): boolean {
    return this.cpu.acpi_enabled[0] !== 0;
  }

  // ---- snapshots (checkpoints) ----

  /**
   * A complete snapshot: v86's own state plus what v86 keeps outside it (the instruction count, the
   * clock, the RTC start). Taken at an epoch boundary it restores into a machine that computes exactly
   * what this one computes from here; taken elsewhere it canonicalizes the JIT first.
   */
  snapshot(): Uint8Array {
    if (this.stepped) throw new Error(`instructions were stepped singly since the last restore (now at ${this.instructions}): snapshots are taken at whole-step boundaries`);
    this.canonicalize();
    // save_state reads the TSC: undo that reading so taking a snapshot changes nothing.
    const clock = this.clock.state;
    const tsc = this.tsc.read();
    const state = this.activate(() => new Uint8Array(this.emulator.v86.save_state()));
    this.clock.state = clock;
    this.tsc.write(tsc);
    const header: SnapshotHeader = {
      format: SNAPSHOT_FORMAT,
      image: this.options.image.sha256,
      memoryMiB: this.options.memoryMiB,
      jit: this.options.jit,
      clockMode: this.options.clock,
      epochLength: this.options.epochLength,
      count: this.count,
      counter: this.lastCounter,
      clock,
      rtcStart: this.rtcStart,
      epochs: this.epochs,
      idleInstructions: this.idleInstructions,
      ports: { fastA20: this.fastA20, firmwarePointer: this.cpu.fw_pointer },
      ended: this.ended,
      idleMs: this.idleMs,
      serialInput: [...this.serialInput],
      tsc,
      unsaved: this.unsavedViews.map((view) => view[0]),
    };
    return encodeSnapshot(header, state);
  }

  /** Boots a fresh machine with the same configuration and restores `snapshot` into it. */
  static async restore(snapshot: Uint8Array, options: MachineOptions): Promise<Machine> {
    const { header, state } = decodeSnapshot(snapshot);
    checkCompatible(header, options);
    const machine = new Machine({ ...options, memoryMiB: header.memoryMiB, jit: header.jit, clock: header.clockMode, epochLength: header.epochLength });
    await loadHasher();
    await machine.start();
    machine.load(header, state);
    return machine;
  }

  /** Restores `snapshot` into this machine (fast: no new emulator), e.g. to go back to a checkpoint. */
  restoreFrom(snapshot: Uint8Array): void {
    const { header, state } = decodeSnapshot(snapshot);
    checkCompatible(header, this.options);
    const settings: [string, unknown, unknown][] = [
      ['memory', header.memoryMiB, this.options.memoryMiB],
      ['jit', header.jit, this.options.jit],
      ['epoch length', header.epochLength, this.options.epochLength],
      ['clock', header.clockMode, this.options.clock],
    ];
    const mismatch = settings.find(([, snapshot, machine]) => snapshot !== machine);
    if (mismatch) throw new SnapshotError(`snapshot has ${mismatch[0]} ${mismatch[1]}, this machine ${mismatch[2]}`);
    this.outputBuffer = [];
    this.framesSent = [];
    this.load(header, state);
  }

  private load(header: SnapshotHeader, state: Uint8Array): void {
    this.cpu.instruction_counter[0] = header.counter;
    this.clock.state = header.clock;
    try {
      this.activate(() => this.emulator.v86.restore_state(arrayBuffer(state)));
    } catch (error) {
      throw new SnapshotError(`damaged snapshot: v86 could not restore the ${state.length} bytes of machine state after the header: ${(error as Error).message || (error as Error).name}`);
    }
    UNSAVED_CPU_FIELDS.forEach((field, i) => {
      this.cpu[field] = this.unsavedViews[i];
      if (header.unsaved) this.unsavedViews[i][0] = header.unsaved[i];
    });
    this.clock.state = header.clock;
    this.cpu.instruction_counter[0] = header.counter;
    this.cpu.jit_clear_cache();
    this.count = header.count;
    this.lastCounter = header.counter;
    this.rtcStart = header.rtcStart;
    this.epochs = { ...header.epochs };
    this.idleInstructions = header.idleInstructions;
    this.fastA20 = header.ports.fastA20;
    this.cpu.fw_pointer = header.ports.firmwarePointer;
    this.ended = header.ended;
    this.idleMs = header.idleMs;
    this.serialInput.splice(0, Infinity, ...header.serialInput);
    this.tsc.write(header.tsc);
    this.stepping = undefined;
    this.stepped = false;
  }

  // ---- inspection ----

  get registers(): v86.Registers {
    return v86.readRegisters(this.cpu);
  }

  readPhysical(address: number, length: number): Uint8Array {
    return this.cpu.mem8.slice(address, address + length);
  }

  /**
   * Writes guest memory, as a debugger does: only JIT code on the written pages is discarded, so a
   * write to a data page changes nothing else (one side only: the next epoch reports that page).
   */
  writePhysical(address: number, bytes: Uint8Array): void {
    if (address < 0 || address + bytes.length > this.memory.length) {
      throw new RangeError(`write of ${bytes.length} bytes at 0x${address.toString(16)} is outside guest memory`);
    }
    this.cpu.write_blob(bytes, address);
  }

  /**
   * Sets a general register or EIP, as a debugger does (one side only: the next epoch reports it).
   * Only at a whole-step boundary: stepping keeps its own view of EIP.
   */
  writeRegister(name: v86.WritableRegister, value: number): void {
    if (this.stepping) throw new Error(`registers are written at whole-step boundaries (now inside the step from ${this.stepping.step.from})`);
    if (name === 'eip') this.cpu.instruction_pointer[0] = value | 0;
    else this.cpu.reg32[v86.REGISTER_NAMES.indexOf(name)] = value | 0;
  }

  destroy(): void {
    this.emulator.destroy();
  }
}

const SNAPSHOT_FORMAT = 'lockstep-snapshot-1';
const SNAPSHOT_MAGIC = Buffer.from('LSSNAP\n\0', 'latin1');

interface SnapshotHeader {
  format: string;
  image: string;
  memoryMiB: number;
  jit: boolean;
  clockMode: ClockMode;
  epochLength: number;
  count: number;
  counter: number;
  clock: { last: number; base: number };
  rtcStart: number | undefined;
  epochs: { index: number; nextExecuted: number; nextCount: number };
  idleInstructions: number;
  /** Port state v86 keeps outside its snapshot. */
  ports: { fastA20: number; firmwarePointer: number };
  ended: boolean;
  idleMs: number;
  serialInput: number[];
  tsc: string[];
  /** UNSAVED_CPU_FIELDS, in order (absent from snapshots of older versions). */
  unsaved?: number[];
}

function encodeSnapshot(header: SnapshotHeader, state: Uint8Array): Uint8Array {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  return Buffer.concat([SNAPSHOT_MAGIC, length, json, state]);
}

export class SnapshotError extends Error {
  override name = 'SnapshotError';
}

function decodeSnapshot(bytes: Uint8Array): { header: SnapshotHeader; state: Uint8Array } {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < 12 || !buffer.subarray(0, 8).equals(SNAPSHOT_MAGIC)) {
    throw new SnapshotError('not a Lockstep snapshot (bad magic at offset 0)');
  }
  const length = buffer.readUInt32LE(8);
  if (12 + length > buffer.length) throw new SnapshotError(`truncated snapshot: header of ${length} bytes at offset 12 runs past the end`);
  let header: SnapshotHeader;
  try {
    header = JSON.parse(buffer.subarray(12, 12 + length).toString('utf8')) as SnapshotHeader;
  } catch (error) {
    throw new SnapshotError(`damaged snapshot header at offset 12: ${(error as Error).message}`);
  }
  if (header.format !== SNAPSHOT_FORMAT) throw new SnapshotError(`unsupported snapshot format '${header.format}'`);
  return { header, state: buffer.subarray(12 + length) };
}

function checkCompatible(header: SnapshotHeader, options: MachineOptions): void {
  if (header.image !== options.image.sha256) {
    throw new SnapshotError(`snapshot was taken of another guest image (sha256 ${header.image.slice(0, 12)}…, given ${options.image.sha256.slice(0, 12)}…)`);
  }
}

function validate(options: MachineOptions): void {
  const { memoryMiB, epochLength, image } = options;
  const bios = options.bios ?? image.boot;
  if (memoryMiB !== undefined && (!Number.isInteger(memoryMiB) || memoryMiB < 4 || memoryMiB > 2048)) {
    throw new RangeError(`memory must be a whole number of MiB from 4 to 2048, got ${memoryMiB}`);
  }
  if (epochLength !== undefined && (!Number.isSafeInteger(epochLength) || epochLength < 100_000)) {
    throw new RangeError(`epoch length must be a whole number of instructions of at least 100000, got ${epochLength}`);
  }
  if (image.kind !== 'multiboot' && !bios) {
    throw new RangeError(`${image.path}: a ${image.kind} image needs a BIOS (e.g. --bios /usr/share/seabios/bios.bin)`);
  }
}

/**
 * Why `rom` cannot be a PC BIOS, or undefined: a BIOS fills whole 64 KiB blocks below 1 MiB and
 * starts at its reset vector, 16 bytes from its end, with a jump. Without one the CPU runs whatever
 * is there, and nothing ever says so.
 */
export function biosProblem(rom: Uint8Array): string | undefined {
  if (rom.length === 0 || rom.length % 0x10000 !== 0 || rom.length > 0x100000) return `${rom.length} bytes, where a BIOS fills whole 64 KiB blocks (SeaBIOS: 128 or 256 KiB)`;
  const reset = rom[rom.length - 16];
  if (![0xea, 0xe9, 0xeb].includes(reset)) return `no jump at its reset vector (16 bytes from the end: 0x${reset.toString(16).padStart(2, '0')})`;
  return undefined;
}

function attachBiosImage(settings: Record<string, unknown>, image: GuestImage, bios: BiosFiles): void {
  settings.bios = { buffer: arrayBuffer(bios.bios) };
  settings.vga_bios = { buffer: arrayBuffer(bios.vgaBios) };
  const buffer = { buffer: arrayBuffer(image.bytes) };
  if (image.kind === 'bzimage') {
    settings.bzimage = buffer;
    if (bios.initrd) settings.initrd = { buffer: arrayBuffer(bios.initrd) };
  } else if (image.kind === 'cdrom') settings.cdrom = buffer;
  else settings.hda = buffer;
}

function arrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/**
 * v86's PCI restore moves I/O BARs that a BIOS-less machine's devices do not have, and throws;
 * this restores the same way but skips BARs the device lacks.
 */
function restorePciState(pci: v86.Pci): (state: unknown[]) => void {
  return (state: unknown[]) => {
    for (let i = 0; i < 256; i++) {
      const device = pci.devices[i];
      const space = state[i] as Int32Array | undefined;
      if (!device || !space) continue;
      device.pci_bars.forEach((bar, barNumber) => {
        const value = space[4 + barNumber];
        if (bar && value & 1) pci.set_io_bars(bar, bar.original_bar & ~1 & 0xffff, value & ~1 & 0xffff);
      });
      pci.device_spaces[i].set(space);
    }
    pci.pci_addr.set(state[256] as Uint8Array);
    pci.pci_value.set(state[257] as Uint8Array);
    pci.pci_response.set(state[258] as Uint8Array);
    pci.pci_status.set(state[259] as Uint8Array);
  };
}
