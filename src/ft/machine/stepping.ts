// Single-instruction stepping: executing one slice again one instruction at a time, to stop at any
// exact count (the debugger's steps, exact stops, reverse execution; docs/debugging.md). A run of
// whole slices records each as a SliceRecord; given it, a SliceStepper runs the slice's
// instructions through the interpreter (interpreter.ts) and does at its edges what v86's main_loop
// does (inputs and a clock reading before, the timers and IRQs after, then the idle skip), so at the
// slice's end the machine is at that boundary exactly as a whole-slice run leaves it.
import type { Clock } from './clock';
import type { Interpreter } from './interpreter';
import type { JitExit } from './jitexit';
import { FLAG_INTERRUPT } from './v86types';
import type * as v86 from './v86types';

/** What main_loop returns for a guest halted with interrupts off. */
const DEAD_IDLE_MS = 100;

/** One slice as a whole-slice run executed it: enough to execute it again one instruction at a time. */
export interface SliceRecord {
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
   * Idle time at the end of the slice, as instructions: a slice that starts halted skips ahead when
   * the guest is halted again at its end (or is the end: 1). It is the whole slice when the guest
   * never woke.
   */
  idle: number;
  /** Where compiled code left by exit_jit, in order (see jitexit.ts): usually none. */
  exits: JitExit[];
}

/** Why `stepTo` returned. */
export type InstructionStop = 'target' | 'breakpoint' | 'end of slice';

/** Executing a slice one instruction at a time did not reproduce what the whole-slice run recorded. */
export class StepDivergence extends Error {
  override name = 'StepDivergence';
}

/** What stepping needs of its machine: v86's CPU, and the machine's own bookkeeping at the slice's end. */
export interface SteppedMachine {
  readonly cpu: v86.Cpu;
  readonly clock: Clock;
  readonly interpreter: Interpreter;
  /** v86's timers as the machine's hooks wrap them (they take their counts from `recordedTimer`). */
  runTimers(acpi: boolean, now: number): number;
  /**
   * The slice's instructions are done: the machine's count is now `count`, main_loop's idle answer
   * `idleMs` (unchanged when undefined), and the guest's idle time is skipped when `skipIdle`.
   * Returns the count the machine is at.
   */
  settle(count: number, idleMs: number | undefined, skipIdle: boolean): number;
  /** The machine is back at a boundary and no longer stepping. */
  leave(): void;
}

/** The slice a machine is executing one instruction at a time. */
export class SliceStepper {
  /** v86's counter when the slice began. */
  private readonly counter: number;
  /** How many of the slice's recorded timer runs have happened. */
  private timers = 0;
  /** How many of the slice's recorded JIT exits have been taken. */
  private exits = 0;
  private readonly startedHalted: boolean;
  /** What main_loop returned when the slice ended halted with the slice's idle time still to skip. */
  private idlePending: number | undefined;

  /** Call once the slice's inputs are delivered, as main_loop finds them. */
  constructor(readonly slice: SliceRecord, private readonly machine: SteppedMachine) {
    this.counter = machine.interpreter.counter;
    this.startedHalted = this.isHalted;
  }

  /** The 64-bit count inside the slice. */
  get instructions(): number {
    return this.slice.from + ((this.machine.interpreter.counter - this.counter) >>> 0);
  }

  /**
   * What main_loop does before its first block: a clock reading and, when halted, the timers and
   * IRQs; if the guest stays halted the slice is an idle skip, done here whole.
   */
  enter(): void {
    const { cpu, clock } = this.machine;
    const start = clock.read();
    if (!this.isHalted) return;
    const interrupts = (cpu.flags[0] & FLAG_INTERRUPT) !== 0;
    const timerMs = interrupts ? this.machine.runTimers(this.acpi, start) : DEAD_IDLE_MS;
    if (interrupts) cpu.handle_irqs();
    if (this.isHalted) this.finishIdle(timerMs);
  }

  /** Towards `target` (see Machine.stepTo). */
  stepTo(target: number, stopBefore?: (eip: number) => boolean): InstructionStop {
    if (this.idlePending === undefined) return this.stepInside(target, stopBefore);
    return this.skipPendingIdle(target);
  }

  /** The count v86's timers run at next, as the whole-slice run recorded it. */
  recordedTimer(): number {
    const at = this.slice.timers[this.timers++];
    if (at === undefined) throw new StepDivergence(`stepping diverged from the recorded run: more timer runs than the ${this.slice.timers.length} recorded in the slice from ${this.slice.from}`);
    return at;
  }

  private stepInside(target: number, stopBefore?: (eip: number) => boolean): InstructionStop {
    const { slice } = this;
    // The slice's last instruction: its idle time, if any, comes after.
    const lastExecuted = slice.to - slice.idle;
    const interpreter = this.machine.interpreter;
    for (;;) {
      const at = this.instructions;
      const exit = this.exitHere();
      if (!exit && at === lastExecuted) return this.endSlice(target);
      if (at > lastExecuted || interpreter.halted) {
        throw new StepDivergence(`stepping diverged from the recorded run: ${interpreter.halted ? 'halted' : 'still running'} at ${at}, the slice ends at ${lastExecuted}`);
      }
      if (stopBefore?.(interpreter.eip)) return 'breakpoint';
      if (at >= target || (at + 1 === target && interpreter.nextIsSti())) return 'target';
      if (exit) {
        // The state before the exit stands for every count the compiled code counted up to it.
        if (target < exit.at) return this.moveCount(target);
        this.takeExit(exit);
        continue;
      }
      // In bulk up to the last instruction before the target, which needs the STI check above.
      const bulk = Math.min(target - 1, lastExecuted) - at;
      const pending = this.slice.exits[this.exits]?.eip;
      const stop = pending === undefined ? stopBefore : (eip: number) => eip === pending || stopBefore?.(eip) === true;
      if (bulk > 0) interpreter.run(bulk, stop);
      else interpreter.execute();
    }
  }

  /** The slice's next recorded JIT exit, if the machine is where it happened (its EIP and registers). */
  private exitHere(): JitExit | undefined {
    const exit = this.slice.exits[this.exits];
    if (!exit || this.machine.interpreter.eip !== exit.eip) return undefined;
    const registers = this.machine.cpu.reg32;
    return exit.registers.every((value, i) => registers[i] === value) ? exit : undefined;
  }

  /**
   * Does what the compiled code did at `exit`: executes the faulting instruction (the exception is
   * raised again, counted as one), or nothing for self-modifying code; then counts what it counted.
   */
  private takeExit(exit: JitExit): void {
    const interpreter = this.machine.interpreter;
    if (exit.next !== exit.eip) {
      interpreter.execute();
      if (interpreter.eip !== exit.next) {
        throw new StepDivergence(`stepping diverged from the recorded run: the instruction at 0x${hex(exit.eip)} went on at 0x${hex(interpreter.eip)}, recorded an exception handled at 0x${hex(exit.next)}`);
      }
    }
    if (this.instructions > exit.at) {
      throw new StepDivergence(`stepping diverged from the recorded run: at ${this.instructions} past the JIT exit recorded at ${exit.at}`);
    }
    this.moveCount(exit.at);
    this.exits++;
  }

  /** Sets the count inside the slice (v86's counter) to `at`. */
  private moveCount(at: number): 'target' {
    this.machine.cpu.instruction_counter[0] += at - this.instructions;
    return 'target';
  }

  /** What main_loop does after the slice's last block: a clock reading, the timers, IRQs. */
  private endSlice(target: number): InstructionStop {
    const timerMs = this.machine.runTimers(this.acpi, this.machine.clock.read());
    this.machine.cpu.handle_irqs();
    if (!this.slice.idle) {
      const count = this.machine.settle(this.slice.to, this.startedHalted ? 0 : undefined, false);
      this.leave(count);
      return target <= count ? 'target' : 'end of slice';
    }
    if (!this.isHalted) throw new StepDivergence(`stepping diverged from the recorded run: running at ${this.instructions}, recorded halted`);
    this.idlePending = timerMs;
    return this.skipPendingIdle(target);
  }

  /** The guest is halted at the end of the slice: stays there, or skips the slice's idle time. */
  private skipPendingIdle(target: number): InstructionStop {
    if (target < this.slice.to) return 'target';
    return target <= this.finishIdle(this.idlePending!) ? 'target' : 'end of slice';
  }

  /** Returns the count after the idle skip. */
  private finishIdle(mainLoopMs: number): number {
    const count = this.machine.settle(this.instructions, mainLoopMs, true);
    this.leave(count);
    return count;
  }

  private leave(count: number): void {
    const { slice } = this;
    if (count !== slice.to || this.timers !== slice.timers.length || this.exits !== slice.exits.length) {
      throw new StepDivergence(`stepping diverged from the recorded run: the slice from ${slice.from} ended at ${count} after ${this.timers} timer runs and ${this.exits} JIT exits, recorded ${slice.to} after ${slice.timers.length} and ${slice.exits.length}`);
    }
    this.machine.leave();
  }

  private get isHalted(): boolean {
    return this.machine.cpu.in_hlt[0] !== 0;
  }

  private get acpi(): boolean {
    return this.machine.cpu.acpi_enabled[0] !== 0;
  }
}

function hex(value: number): string {
  return (value >>> 0).toString(16);
}
