// v86's own saved state (save_state/restore_state), taken and put back so that it means the same on
// every machine: taking it changes nothing (save_state reads the TSC, which moves the latched clock and
// the TSC's statics: both are undone), and putting it back sets what restore_state leaves alone or gets
// wrong (the 32-bit counter before and after, the clock, the CPU fields v86 saves as views, the TSC's
// statics), and the JIT's state, which v86 does not save and its restore empties (jitstate.ts). The
// machine's own bookkeeping is the snapshot header's business (machine.ts, snapshot.ts).
import type { Clock, ClockState } from './clock';
import type { JitState, SavedJit } from './jitstate';
import { withoutRam } from './ramless';
import { SnapshotError, UNSAVED_CPU_FIELDS } from './snapshot';
import type { TscState } from './tsc';
import type { V86Hooks } from './v86hooks';
import * as v86 from './v86types';

/** v86's state and what it keeps outside it, as taken at a boundary. */
export interface SavedV86 {
  state: Uint8Array;
  clock: ClockState;
  tsc: string[];
  unsaved: number[];
  jit: SavedJit;
}

/** What restore needs besides v86's state (fields of a snapshot header). */
export interface V86Extras {
  counter: number;
  clock: ClockState;
  tsc: string[];
  /** Absent from snapshots of older versions. */
  unsaved?: number[];
}

export class V86State {
  /** The views v86 made at start-up for UNSAVED_CPU_FIELDS: restore_state would replace them with saved objects. */
  private readonly unsavedViews: Int32Array[];

  constructor(
    private readonly emulator: v86.Emulator,
    private readonly parts: { clock: Clock; tsc: TscState; hooks: V86Hooks; jit: JitState },
  ) {
    this.unsavedViews = UNSAVED_CPU_FIELDS.map((field) => this.cpu[field]);
  }

  private get cpu(): v86.Cpu {
    return this.emulator.v86.cpu;
  }

  /** Saves v86's state (without guest RAM when `ram` is false) and undoes the TSC reading saving makes. */
  save(ram: boolean): SavedV86 {
    const { clock, tsc, hooks, jit } = this.parts;
    const clockState = clock.state;
    const tscState = tsc.read();
    const save = () => new Uint8Array(this.emulator.v86.save_state());
    const state = hooks.activate(() => (ram ? save() : withoutRam(this.cpu, save)));
    clock.state = clockState;
    tsc.write(tscState);
    // After the TSC's statics are undone: the JIT's memory holds them too.
    const unsaved = this.unsavedViews.map((view) => view[0]);
    return { state, clock: clockState, tsc: tscState, unsaved, jit: jit.save() };
  }

  /** Restores `state` (into RAM, or with RAM from `ram` for a state saved without it), then the JIT's state. */
  restore(state: Uint8Array, saved: SavedJit, extras: V86Extras, ram?: Uint8Array): void {
    const { clock, tsc, hooks, jit } = this.parts;
    this.cpu.instruction_counter[0] = extras.counter;
    clock.state = extras.clock;
    const restore = () => this.emulator.v86.restore_state(v86.arrayBuffer(state));
    try {
      hooks.activate(() => (ram ? withoutRam(this.cpu, restore, ram) : restore()));
    } catch (error) {
      throw new SnapshotError(`damaged snapshot: v86 could not restore the ${state.length} bytes of machine state after the header: ${(error as Error).message || (error as Error).name}`);
    }
    UNSAVED_CPU_FIELDS.forEach((field, i) => {
      this.cpu[field] = this.unsavedViews[i];
      if (extras.unsaved) this.unsavedViews[i][0] = extras.unsaved[i];
    });
    jit.restore(saved);
    clock.state = extras.clock;
    this.cpu.instruction_counter[0] = extras.counter;
    tsc.write(extras.tsc);
  }
}
