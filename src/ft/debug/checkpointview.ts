// What a debugger shows of checkpoint replication's backup (Remus). That backup runs no guest: it
// holds the last complete checkpoint it applied, so its thread shows that checkpoint, read-only: a
// machine restored from it (made again only when a newer checkpoint is in and the thread is looked
// at), with the checkpoint's number in its state. Moving it (a step, a breakpoint run, a write) is
// refused; being asked to follow the primary, it shows the latest checkpoint, as far as it can follow.
import type { CheckpointNote, DebugOp, DebugResult } from '../cluster';
import { Replayer, type Machine } from '../machine';
import { MachineDebugger } from './debugger';

/** A checkpoint held, restored into a machine of its own. */
export interface RestoredCheckpoint extends CheckpointNote { machine: Machine }

/** Where the checkpoints are: the backup's store. */
export interface CheckpointSource {
  /** The number of the checkpoint held; undefined before the first. */
  readonly heldIndex: number | undefined;
  /** A machine restored from the checkpoint held now (undefined before the first). */
  restoreHeld(): Promise<RestoredCheckpoint | undefined>;
}

/** Operations answered with the state of the checkpoint shown. */
const SHOWS = new Set<DebugOp['op']>(['state', 'pause', 'resume', 'runTo']);
/** Operations the checkpoint's machine answers as any machine would. */
const READS = new Set<DebugOp['op']>(['read', 'entries', 'epochs']);

export class CheckpointView {
  private shown: { checkpoint: CheckpointNote; machine: Machine; debugger: MachineDebugger } | undefined;
  /** The newest restore asked for (one at a time: restoring starts an emulator). */
  private restoring: Promise<void> = Promise.resolve();

  constructor(private readonly id: string, private readonly source: CheckpointSource) {}

  async execute(op: DebugOp): Promise<DebugResult | undefined> {
    if (!SHOWS.has(op.op) && !READS.has(op.op)) {
      throw new Error(`${this.id} is checkpoint replication's backup: it runs no guest and shows the last checkpoint it applied, read-only (${op.op} the primary's thread instead)`);
    }
    await this.refresh();
    const shown = this.shown;
    if (!shown) {
      if (op.op === 'pause' || op.op === 'resume') return undefined;
      const reason = `${this.id} is waiting for its first checkpoint (the primary sends a full one when its backup attaches)`;
      if (SHOWS.has(op.op)) return { kind: 'waiting', reason };
      throw new Error(reason);
    }
    const result = await shown.debugger.execute(SHOWS.has(op.op) ? { op: 'state' } : op);
    if (result.kind !== 'state') return result;
    return { kind: 'state', state: { ...result.state, held: true, checkpoint: shown.checkpoint } };
  }

  /** Shows the checkpoint held now, restoring it when it is newer than the one shown. */
  private refresh(): Promise<void> {
    const next = this.restoring.then(async () => {
      if (this.source.heldIndex === undefined || this.source.heldIndex === this.shown?.checkpoint.index) return;
      const restored = await this.source.restoreHeld();
      if (!restored) return;
      const { machine, ...checkpoint } = restored;
      this.destroy();
      // No values to replay: the checkpoint's machine never moves past the checkpoint.
      const env = { available: () => machine.instructions, held: () => true };
      this.shown = { checkpoint, machine, debugger: new MachineDebugger(machine, new Replayer(), env) };
    });
    this.restoring = next.catch(() => undefined);
    return next;
  }

  /** Lets go of the machine shown (the backup went live: its own machine is debugged from now on). */
  destroy(): void {
    this.shown?.machine.destroy();
    this.shown = undefined;
  }
}
