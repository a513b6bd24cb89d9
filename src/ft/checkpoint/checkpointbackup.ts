// The backup of checkpoint replication (Remus). It does not run the guest: it receives checkpoints
// into its store (checkpointstore.ts) and acknowledges each one only once it has all of it and has
// applied it, which is what releases the outputs of that epoch on the primary (the Output Rule,
// here by checkpoint). When the primary goes silent it gives up a checkpoint still under way,
// claims the arbiter, restores a machine from the last complete checkpoint and goes live in this
// process; inputs the primary took after that checkpoint are lost with it, and clients resend them.
import { connectChannel, type Channel } from '../channel';
import { connectToPrimary, Detector, type HostContext } from '../replication';
import { Machine, Replayer, resolveSpec, type MachineOptions } from '../machine';
import type { Frame } from '../log';
import type { RestoredCheckpoint } from '../debug';
import { CheckpointError } from './checkpointcodec';
import { CheckpointStore, type HeldCheckpoint } from './checkpointstore';

export interface CheckpointStoreStats {
  applied: number;
  refused: number;
  lastRefusal?: string;
  latest?: HeldCheckpoint;
}

export class CheckpointBackup {
  private readonly store = new CheckpointStore();
  private readonly detector: Detector;
  private channel: Channel | undefined;
  private running = true;
  private goingLive = false;

  constructor(private readonly host: HostContext) {
    this.detector = new Detector(host.config.detector);
    this.detector.on('heartbeat', () => this.send({ kind: 'heartbeat', seq: this.receivedSeq, at: this.instructions, role: 'backup' }));
    this.detector.on('suspect', (silentMs) => void this.goLive(`no word from the primary for ${Math.round(silentMs)} ms`));
  }

  /** The instruction count of the checkpoint held: the state this backup would go live with. */
  get instructions(): number {
    return this.store.latest?.at ?? 0;
  }

  /** The number of the checkpoint held (what a debugger shows of this backup: debug/checkpointview.ts). */
  get heldIndex(): number | undefined {
    return this.store.latest?.index;
  }

  /** A machine restored from the checkpoint held now; RAM and state are taken at once, as one checkpoint. */
  async restoreHeld(): Promise<RestoredCheckpoint | undefined> {
    const held = this.store.latest;
    if (!held) return undefined;
    const { index, seq, at } = held;
    const machine = await Machine.restore(this.store.state, this.machineOptions(), this.store.ram.slice());
    return { index, seq, at, machine };
  }

  /** The log entry of the checkpoint held. */
  get receivedSeq(): number {
    return this.store.latest?.seq ?? 0;
  }

  get stats(): CheckpointStoreStats {
    const { applied, refused, lastRefusal, latest } = this.store;
    return { applied, refused, ...(lastRefusal === undefined ? {} : { lastRefusal }), ...(latest ? { latest } : {}) };
  }

  /** A checkpoint under way: chunks received of how many. */
  get receiving(): { received: number; total: number } | undefined {
    return this.store.receiving;
  }

  get logChannel(): Channel | undefined {
    return this.channel;
  }

  async start(): Promise<void> {
    await this.connect();
    this.detector.start();
  }

  private async connect(): Promise<void> {
    const channel = await connectToPrimary(this.host, {
      open: connectChannel,
      wanted: () => this.running && !this.goingLive,
      frame: (frame) => this.receive(frame),
      closed: () => {
        this.store.discardPartial();
        if (this.running && !this.goingLive) void this.connect();
      },
    });
    // Every connection starts from a full checkpoint: what the primary sent while it was away is not here.
    if (channel) {
      this.channel = channel;
      this.askForFull();
    }
  }

  private askForFull(): void {
    this.send({ kind: 'resend-from', seq: 0, at: this.instructions });
  }

  private send(frame: Frame): void {
    if (this.channel && !this.channel.isClosed) this.channel.send(frame);
  }

  private receive(frame: Frame): void {
    this.detector.heard();
    if (frame.kind !== 'checkpoint' || this.goingLive) return;
    try {
      const held = this.store.receive(frame);
      if (held) this.send({ kind: 'ack', seq: held.seq, at: held.at });
    } catch (error) {
      if (!(error instanceof CheckpointError)) throw error;
      this.host.say(`refused a checkpoint: ${error.message}; asking for a full one`);
      this.askForFull();
    }
  }

  private machineOptions(): MachineOptions {
    return { ...resolveSpec(this.host.config).settings, nondet: new Replayer() };
  }

  /** The primary is gone (or unreachable): claim the arbiter, then run from the last complete checkpoint. */
  private async goLive(reason: string): Promise<void> {
    if (this.goingLive) return;
    // With no checkpoint there is nothing to go live with: while the connection stands, the primary is
    // taken to be busy capturing the first one (a full one can pause it for longer than the timeout).
    if (!this.store.latest && this.channel && !this.channel.isClosed) return this.detector.start();
    this.goingLive = true;
    this.detector.stop();
    this.channel?.destroy();
    this.store.discardPartial();
    const cut = this.store.cutOff;
    const held = this.store.latest;
    if (!held) return this.host.halt(`the primary is gone before this backup held a complete checkpoint (${reason})`);
    const claim = this.host.claim();
    if (!claim.won) return this.host.halt(`lost the arbiter to ${claim.holder} (${reason})`);
    // A debugger pausing this backup held nothing that runs: the new primary runs, as in replay mode.
    this.host.takeMachineBack();
    const options = this.machineOptions();
    const machine = await Machine.restore(this.store.state, options, this.store.ram);
    const unapplied = cut ? `; the checkpoint after it was cut off (${cut.received} of ${cut.total} chunks) and is not applied` : '';
    this.host.say(`going live from checkpoint ${held.index} (instruction ${held.at}, log entry ${held.seq})${unapplied}`);
    this.host.machineReady(machine, options.nondet);
    await this.host.becomePrimary(machine, held.seq, { reason, leftoverInputs: [], reissue: [] });
  }

  stop(): void {
    this.running = false;
    this.detector.stop();
    void this.channel?.close('backup stopping');
  }
}
