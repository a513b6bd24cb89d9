// The deterministic machine: a v86 emulator whose execution is a pure function of its starting state
// and its logged inputs, JIT on. Everything about determinism lives here and in the files beside it:
//  - it advances only in slices between boundaries that depend on guest execution alone (one
//    main_loop run each, see v86wasm.ts), each named by its 64-bit instruction count;
//  - time comes from a latched Clock, randomness and inputs from a Nondeterminism (routed into v86
//    by v86hooks.ts), and v86's devices are fixed where they would differ (devices.ts);
//  - JIT compilation is synchronous, so compiled code lands at a point fixed by the guest (and the
//    same wasm is compiled once per process, jitmodules.ts);
//  - a snapshot carries the JIT's state (jitstate.ts), so a machine restored from it (snapshot.ts)
//    compiles what the original compiles, and epochs keep compiled code.
// Idle time counts as instructions at the nominal rate (like QEMU's icount, clock.ts idleSkip): a
// halted guest still advances the count, so every slice moves it forward and no two boundaries share
// a name. Epochs come as epochschedule.ts says; output leaves at slice ends (guestoutput.ts).
// Inside a slice it can also step single instructions (stepTo), given the SliceRecord a whole-slice
// run emitted for it, to stop at any exact count (see stepping.ts and docs/debugging.md).
import { V86 as V86Class } from 'v86';
import { Clock, createClock, FIRST_INSTRUCTIONS_PER_MS, idleSkip } from './clock';
import { OwnedPorts, deliverInput, restorePciState, useGuestMac, withdrawStaleCascade } from './devices';
import { Nondeterminism } from './nondet';
import { componentHashes } from './components';
import { DiskReader } from './disk';
import { AttachedDisk } from './attacheddisk';
import { MachineListeners, type Epoch, type MachineEvents, type RunEnd } from './machineevents';
import { GuestOutput } from './guestoutput';
import { afterEpoch, epochDue, firstEpoch, type EpochSchedule } from './epochschedule';
import { hashBytes, loadHasher, stateHash } from './hash';
import { PageHasher } from './pagehasher';
import { markStartup } from './startup';
import { Interpreter } from './interpreter';
import { onJitExit, type JitExit } from './jitexit';
import { JitState } from './jitstate';
import { MachineOptions, ResolvedOptions, v86Settings, validate, withDefaults } from './options';
import { DecodedSnapshot, checkCompatible, checkSettings, decodeSnapshot, encodeSnapshot } from './snapshot';
import { InstructionStop, SliceRecord, SliceStepper, SteppedMachine } from './stepping';
import { TscState } from './tsc';
import { V86Hooks } from './v86hooks';
import { V86State } from './v86state';
import * as v86 from './v86types';

export class Machine {
  readonly options: ResolvedOptions;
  readonly clock: Clock;
  private nondet: Nondeterminism;
  private emulator!: v86.Emulator;
  private cpu!: v86.Cpu;
  private readonly hooks: V86Hooks;
  private tsc!: TscState;
  private pages!: PageHasher;
  private count = 0;
  private idleInstructions = 0;
  private ports!: OwnedPorts;
  private lastCounter = 0;
  /** The guest's wall-clock time at power-on; taken (logged) before the first slice, not at create. */
  private rtcStart: number | undefined;
  private idleMs = 0;
  private output!: GuestOutput;
  private ended = false;
  private epochs: EpochSchedule;
  private lastEpoch: Epoch | undefined;
  private readonly listeners = new MachineListeners();
  private interpreter!: Interpreter;
  private v86State!: V86State;
  /** Timer counts of the slice in progress: its SliceRecord's. */
  private sliceTimers: number[] = [];
  /** Where compiled code left by exit_jit in the slice in progress: its SliceRecord's. */
  private sliceExits: JitExit[] = [];
  /** The slice the machine is executing one instruction at a time. */
  private stepper: SliceStepper | undefined;
  /** The machine as its steppers see it. */
  private steppedMachine!: SteppedMachine;
  /** Instructions were stepped singly since the last restore, so the JIT state is not a whole-slice run's. */
  private stepped = false;
  /** The guest's IDE disk, and where this host reads it (attacheddisk.ts). */
  private readonly disk: AttachedDisk | undefined;

  private constructor(options: MachineOptions) {
    this.options = withDefaults(options);
    this.nondet = options.nondet;
    this.clock = createClock(this.options.clock, () => this.nondet, this.options.instructionsPerMs);
    this.epochs = firstEpoch(this.options.epochLength);
    this.disk = options.disk && new AttachedDisk(options.disk);
    // The guest's Date: RTC power-on time plus its clock.
    this.hooks = new V86Hooks({
      clock: this.clock,
      random: () => this.nondet.random(this.count),
      timerCount: () => this.timerCount(),
    }, () => Math.floor((this.rtcStart ?? 0) + this.clock.peek()));
  }

  /** Boots a machine (stopped at instruction 0, before the guest's first instruction). */
  static async create(options: MachineOptions): Promise<Machine> {
    validate(withDefaults(options));
    await loadHasher();
    markStartup('hasher');
    const machine = new Machine(options);
    await machine.start();
    return machine;
  }

  /**
   * Takes the RTC's power-on time from the nondeterminism source. It happens at the first slice rather
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
    const settings = v86Settings(this.options, (imports) => this.hooks.instantiate(imports), this.disk?.guest);
    const V86 = V86Class as unknown as v86.V86Constructor;
    this.emulator = await new Promise<v86.Emulator>((resolve) => {
      const emulator = new V86(settings);
      emulator.add_listener('emulator-loaded', () => resolve(emulator));
    });
    markStartup('emulator');
    this.cpu = this.emulator.v86.cpu;
    v86.checkV86Internals(this.cpu);
    this.interpreter = new Interpreter(this.cpu.wasm_memory, this.cpu, this.hooks.exports!);
    this.tsc = new TscState(this.cpu.wasm_memory);
    const jit = new JitState(this.cpu);
    this.v86State = new V86State(this.emulator, { clock: this.clock, tsc: this.tsc, hooks: this.hooks, jit });
    this.pages = new PageHasher(this.cpu.wasm_memory);
    onJitExit(this.cpu, (exit) => {
      const at = this.count + ((this.cpu.instruction_counter[0] - this.lastCounter) >>> 0);
      this.sliceExits.push({ at, ...exit });
    });
    this.output = new GuestOutput(this.emulator);
    this.lastCounter = this.cpu.instruction_counter[0];
    V86Hooks.routeMicrotick(this.emulator);
    this.cpu.devices.pci.set_state = restorePciState(this.cpu.devices.pci);
    this.ports = new OwnedPorts(this.cpu.io, () => this.output.exited());
    useGuestMac(this.cpu.devices.net);
    withdrawStaleCascade(this.cpu);
    this.steppedMachine = {
      cpu: this.cpu,
      clock: this.clock,
      interpreter: this.interpreter,
      runTimers: (acpi, now) => this.hooks.runTimers(acpi, now),
      settle: (count, idleMs, skipIdle) => {
        this.count = count;
        if (idleMs !== undefined) this.idleMs = idleMs;
        if (skipIdle) this.skipIdle();
        return this.count;
      },
      leave: () => {
        this.lastCounter = this.cpu.instruction_counter[0];
        this.stepper = undefined;
        this.finishDiskIo();
        this.flushOutput();
      },
    };
  }

  /** Where this host reads the guest's disk from now on (a backup going live in shared mode gets the file). */
  useDiskReader(read: DiskReader): void {
    this.disk?.useReader(read);
  }

  /** Where nondeterministic values come from from now on (record live, or replay a log). */
  useNondeterminism(nondet: Nondeterminism): void {
    this.nondet = nondet;
  }

  on(events: MachineEvents): void {
    this.listeners.on(events);
  }

  /**
   * Listens as well, beside `on`'s listeners and other observers; returns how to stop. A debugger's
   * revisits replay the past and tell these again: Timeline.observe hears new history only.
   */
  observe(events: MachineEvents): () => void {
    return this.listeners.observe(events);
  }

  private emit<K extends keyof MachineEvents>(event: K, ...args: Parameters<NonNullable<MachineEvents[K]>>): void {
    this.listeners.emit(event, ...args);
  }

  /** The 64-bit instruction count (idle time included at the nominal rate). */
  get instructions(): number {
    return this.stepper ? this.stepper.instructions : this.count;
  }

  /** Halted with interrupts disabled, or exited: the guest can never run again. */
  get isEnded(): boolean {
    return this.ended;
  }

  /** The value the guest wrote to isa-debug-exit (port 0xF4), if it ended that way. */
  get exitCode(): number | undefined {
    return this.ports.exitCode;
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
    return this.hooks.activate(() => {
      while (!this.ended && this.count < limit) {
        this.runSliceActive();
        if (this.waitsForHostTime) return 'idle';
        if (pause?.()) return 'paused';
      }
      return this.ended ? 'halted' : 'limit';
    });
  }

  /**
   * Halted with the host clock: the guest's next timer is `idleHint` ms of real time away, so the
   * caller should wait (or deliver input) rather than run another slice at once.
   */
  get waitsForHostTime(): boolean {
    return this.options.clock === 'host' && this.isHalted && !this.ended;
  }

  /** One slice: delivers the inputs due at this boundary, then runs to the next boundary. */
  runSlice(): void {
    this.hooks.activate(() => this.runSliceActive());
  }

  private runSliceActive(): void {
    if (this.ended) return;
    if (this.stepped) throw new Error(`instructions were stepped singly since the last restore (now at ${this.instructions}): restore a snapshot before running whole slices`);
    this.beginSlice();
    const before = this.count;
    this.sliceTimers = [];
    this.sliceExits = [];
    const idle = this.isHalted ? this.runHaltedSlice() : (this.mainLoop(), 0);
    this.syncCount();
    if (this.count === before) throw new Error(`machine did not advance at instruction ${before}`);
    if (this.ports.exitCode !== undefined) this.ended = true;
    this.finishDiskIo();
    this.flushOutput();
    if (epochDue(this.epochs, this.executedInstructions, this.count)) this.reachEpoch();
    this.emit('slice', { from: before, to: this.count, timers: this.sliceTimers, idle, exits: this.sliceExits });
  }

  /** What comes before a slice's first instruction, whole or stepped: power-on, then the inputs due. */
  private beginSlice(): void {
    this.powerOn();
    this.deliverInputs();
  }

  /** One main_loop run; JIT code it compiled is installed at its end. */
  private mainLoop(): number {
    const idleMs = this.cpu.main_loop();
    this.hooks.installCompiled();
    return idleMs;
  }

  /**
   * The count v86's timers run at (the wrapped run_hardware_timers asks): the count so far, recorded
   * for the slice's SliceRecord; or, when stepping, the one that record gives.
   */
  private timerCount(): number {
    if (this.stepper) this.count = this.stepper.recordedTimer();
    else {
      this.syncCount();
      this.sliceTimers.push(this.count);
    }
    return this.count;
  }

  /** Returns the idle time skipped at the end, as instructions (0 when the guest is running). */
  private runHaltedSlice(): number {
    this.idleMs = this.mainLoop();
    if (!this.isHalted) return 0;
    const before = this.count;
    this.skipIdle();
    return this.count - before;
  }

  /** The guest stays halted: count its idle time (or, with interrupts off, its end) as instructions. */
  private skipIdle(): void {
    if (!(this.cpu.flags[0] & v86.FLAG_INTERRUPT)) {
      this.ended = true;
      this.idle(1);
      return;
    }
    this.idle(idleSkip(this.idleMs, this.disk?.guest.hasPendingReads ?? false, this.options.instructionsPerMs));
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
      deliverInput(this.emulator.bus, input);
      this.emit('input', input);
    }
  }

  private syncCount(): void {
    const counter = this.cpu.instruction_counter[0];
    this.count += (counter - this.lastCounter) >>> 0;
    this.lastCounter = counter;
  }

  /** The end of a slice, whole or stepped: the guest's disk writes leave, then its reads complete. */
  private finishDiskIo(): void {
    this.disk?.finishIo(this.count, this.nondet, {
      write: (write) => this.emit('diskWrite', write, this.count),
      read: (request) => this.emit('diskRead', request, this.count),
    });
  }

  /** Output leaves at the end of the slice that produced it: its count is where the Output Rule holds it. */
  private flushOutput(): void {
    const { frames, serial } = this.output.take();
    for (const frame of frames) this.emit('frame', frame, this.count);
    if (serial) this.emit('output', serial, this.count);
  }

  private reachEpoch(): void {
    const pages = this.pageHashes();
    this.epochs = afterEpoch(this.epochs, this.options.epochLength, this.executedInstructions, this.count);
    const epoch: Epoch = {
      index: this.epochs.index,
      at: this.count,
      hash: stateHash(pages, this.cpuAndDeviceHash()),
      pages,
      disk: this.disk?.guest.blockHashes(),
    };
    this.lastEpoch = epoch;
    this.emit('epoch', epoch);
  }

  /**
   * An epoch here and now, at a boundary the caller picked rather than every E instructions (checkpoint
   * replication's time-based checkpoints): the state is hashed as at any epoch.
   */
  epochNow(): void {
    if (this.stepped) throw new Error(`instructions were stepped singly since the last restore (now at ${this.instructions}): epochs are at whole-slice boundaries`);
    this.hooks.activate(() => this.reachEpoch());
  }

  /** Guest RAM (a view into v86's memory; valid until the next slice). */
  get memory(): Uint8Array {
    return this.cpu.mem8.subarray(0, this.options.memoryMiB * 1024 * 1024);
  }

  /** Hashes of everything but guest RAM, one per component (components.ts), to say which part differs. */
  componentHashes(): Record<string, bigint> {
    const { cpu, serialInput, tsc, ports, clock, count, idleInstructions, rtcStart } = this;
    return componentHashes({ cpu, serialInput, tsc, ports, clock, count, idleInstructions, rtcStart }, this.options);
  }

  /** Hash of everything but guest RAM. */
  cpuAndDeviceHash(): bigint {
    return hashBytes(new BigUint64Array(Object.values(this.componentHashes())));
  }

  /** The full state hash now, as an epoch computes it. */
  currentHash(): string {
    return stateHash(this.pageHashes(), this.cpuAndDeviceHash());
  }

  /** xxHash64 of every 4 KiB page of guest RAM, read in place (pagehasher.ts). */
  pageHashes(): BigUint64Array {
    return this.pages.pageHashes(this.memory);
  }

  /** Pages of the last page hashes known to be zeros without being read (never mapped, residentpages.ts). */
  get unreadPages(): number {
    return this.pages.unread;
  }

  // ---- single instructions ----

  /**
   * Steps guest instructions one at a time, as v86's interpreter executes them, towards count
   * `target`, inside the slice `slice` describes (recorded by a whole-slice run; the machine is at its
   * start or inside it). Stops at `target`, or one below it when the next instruction is an STI (v86
   * executes it together with the instruction after it); at the end of the slice, having done there
   * what main_loop does, so the machine is at that boundary exactly as a whole slice leaves it; or
   * before an instruction whose EIP `stopBefore` accepts. An idle slice cannot be entered: the
   * machine stays at its start until `target` reaches its end, then skips it whole.
   * Afterwards the machine is stepped (its JIT state is not a whole-slice run's): it shows the guest's
   * state exactly, and refuses whole slices and snapshots until a snapshot is restored.
   */
  stepTo(target: number, slice: SliceRecord, stopBefore?: (eip: number) => boolean): InstructionStop {
    return this.hooks.activate(() => {
      if (!this.stepper) {
        if (slice.from !== this.count) throw new RangeError(`the slice starts at ${slice.from}, the machine is at boundary ${this.count}`);
        const neverWakes = slice.idle === slice.to - slice.from;
        if (this.ended || target <= this.count || (neverWakes && target < slice.to)) return 'target';
        // No instruction runs in it, so a whole slice perturbs nothing.
        if (neverWakes && !this.stepped) this.runSliceActive();
        else this.enterSlice(slice);
        if (!this.stepper) return target <= this.count ? 'target' : 'end of slice';
      } else if (this.stepper.slice.from !== slice.from) {
        throw new RangeError(`the machine is inside the slice from ${this.stepper.slice.from}, not the one from ${slice.from}`);
      }
      return this.stepper.stepTo(target, stopBefore);
    });
  }

  /** Whether instructions were stepped singly since the last restore. */
  get isStepped(): boolean {
    return this.stepped;
  }

  /** Whether the machine is inside a slice it steps one instruction at a time (not at a boundary). */
  get isInsideSlice(): boolean {
    return this.stepper !== undefined;
  }

  private enterSlice(slice: SliceRecord): void {
    this.beginSlice();
    this.stepper = new SliceStepper(slice, this.steppedMachine);
    this.stepped = true;
    this.stepper.enter();
  }

  // ---- snapshots ----

  /**
   * A complete snapshot: v86's own state plus what v86 keeps outside it (the instruction count, the
   * clock, the RTC start, the JIT's state). Taken at any boundary it restores into a machine that
   * computes exactly what this one computes from here. Without `ram`
   * it leaves guest RAM out (checkpoint replication sends RAM's changed pages instead).
   */
  snapshot({ ram = true }: { ram?: boolean } = {}): Uint8Array {
    if (this.stepped) throw new Error(`instructions were stepped singly since the last restore (now at ${this.instructions}): snapshots are taken at whole-slice boundaries`);
    const { state, clock, tsc, unsaved, jit } = this.v86State.save(ram);
    return encodeSnapshot({
      image: this.options.image.sha256,
      memoryMiB: this.options.memoryMiB,
      jit: this.options.jit,
      clockMode: this.options.clock,
      instructionsPerMs: this.options.instructionsPerMs,
      epochLength: this.options.epochLength,
      count: this.count,
      counter: this.lastCounter,
      clock,
      rtcStart: this.rtcStart,
      epochs: this.epochs,
      idleInstructions: this.idleInstructions,
      ports: { fastA20: this.ports.fastA20, firmwarePointer: this.cpu.fw_pointer, exitCode: this.ports.exitCode },
      ended: this.ended,
      idleMs: this.idleMs,
      serialInput: [...this.serialInput],
      diskSize: this.disk?.byteLength,
      tsc,
      unsaved,
    }, state, jit);
  }

  /**
   * Boots a fresh machine with the same configuration and restores `snapshot` into it; `ram`: the guest
   * RAM of a snapshot taken without it.
   */
  static async restore(snapshot: Uint8Array, options: MachineOptions, ram?: Uint8Array): Promise<Machine> {
    const decoded = decodeSnapshot(snapshot);
    const { header } = decoded;
    checkCompatible(header, options.image, options.disk?.size);
    const machine = new Machine({
      ...options,
      memoryMiB: header.memoryMiB,
      jit: header.jit,
      clock: header.clockMode,
      instructionsPerMs: header.instructionsPerMs ?? FIRST_INSTRUCTIONS_PER_MS,
      epochLength: header.epochLength,
    });
    await loadHasher();
    markStartup('hasher');
    await machine.start();
    machine.load(decoded, ram);
    return machine;
  }

  /**
   * Restores `snapshot` into this machine (fast: no new emulator), e.g. the debugger going back to one of its
   * snapshots.
   */
  restoreFrom(snapshot: Uint8Array): void {
    const decoded = decodeSnapshot(snapshot);
    checkCompatible(decoded.header, this.options.image, this.disk?.byteLength);
    checkSettings(decoded.header, this.options);
    this.disk?.guest.reset();
    this.load(decoded);
  }

  private load({ header, state, jit }: DecodedSnapshot, ram?: Uint8Array): void {
    this.v86State.restore(state, jit, header, ram);
    this.count = header.count;
    this.lastCounter = header.counter;
    this.rtcStart = header.rtcStart;
    this.epochs = { ...header.epochs };
    this.idleInstructions = header.idleInstructions;
    this.ports.fastA20 = header.ports.fastA20;
    this.ports.exitCode = header.ports.exitCode;
    this.output.reset(header.ports.exitCode !== undefined);
    this.cpu.fw_pointer = header.ports.firmwarePointer;
    this.ended = header.ended;
    this.idleMs = header.idleMs;
    this.serialInput.splice(0, Infinity, ...header.serialInput);
    this.stepper = undefined;
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
   * Writes sectors of the guest's disk as a debugger does: only what the guest knows of it (its hashes)
   * changes, never a file (one side only: the next epoch names the blocks).
   */
  writeDisk(offset: number, data: Uint8Array): void {
    if (!this.disk) throw new RangeError('this machine has no disk');
    this.disk.poke(offset, data);
  }

  /**
   * Sets a general register or EIP, as a debugger does (one side only: the next epoch reports it).
   * Only at a boundary: stepping keeps its own view of EIP.
   */
  writeRegister(name: v86.WritableRegister, value: number): void {
    if (this.stepper) throw new Error(`registers are written at boundaries (now inside the slice from ${this.stepper.slice.from})`);
    if (name === 'eip') this.cpu.instruction_pointer[0] = value | 0;
    else this.cpu.reg32[v86.REGISTER_NAMES.indexOf(name)] = value | 0;
  }

  destroy(): void {
    this.pages.close();
    this.emulator.destroy();
  }
}
