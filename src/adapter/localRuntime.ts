// A machine in the adapter's own process, one thread: the replay of a recorded log file (no live
// primary: every input and nondeterministic value comes from the file, and its epoch hashes are
// what the replay is checked against), or a single machine recording as it goes (mode "single"),
// on its own disk if the launch gives one.
import { MachineDebugger } from '../ft/debug';
import { openLockedDisk, resolveSpec, type DiskFile, type DiskWrite } from '../ft/machine';
import type { EpochEntry, LogEntry, LogMeta } from '../ft/log';
import { isComplete, readLogFile } from '../ft/log';
import { Machine } from '../ft/machine';
import { RecordedEvent, Recorder, Replayer } from '../ft/machine';
import { hashedDevicesOf, machineFor, recordedDisk, type ReplayDisk } from '../ft/commands';
import { BOOT_ATTRIBUTES, LaunchConfig, LaunchError, Start } from './launch';
import { recordingEvents } from './recording';
import { CustomEvent, DivergenceView, Runtime } from './runtime';
import { LocalTarget, Target } from './targets';

export class LocalRuntime extends Runtime {
  private machine: Machine | undefined;
  private local: LocalTarget | undefined;
  /** A replay's logged epoch hashes, by index. */
  private logged = new Map<number, EpochEntry>();
  /** A replay's panel events, made from the file: sent when the session begins. */
  private recording: CustomEvent[] = [];
  /** Lets go of the session's disk (a single machine's closed and unlocked, a replay's closed) when it ends. */
  private releaseDisk: (() => void) | undefined;

  constructor(private readonly config: LaunchConfig) {
    super();
  }

  async launch(): Promise<void> {
    const debug = this.config.kind === 'replay' ? await this.replay(this.config) : await this.single();
    this.targets.set(1, debug);
    this.local = debug;
  }

  /** A machine fed from the file; it runs as far as the log says the recording got. */
  private async replay(config: Extract<LaunchConfig, { kind: 'replay' }>): Promise<LocalTarget> {
    const { log: path, image: imagePath } = config;
    const contents = await readLogFile(path).catch((e: Error) => { throw new LaunchError(`launch attribute 'log': ${path}: ${e.message}`); });
    const { meta, entries, end: ending, error } = contents;
    if (error) this.emit('output', 'stderr', `${path} is damaged (${error.message}): replaying the good part\n`);
    else if (!isComplete(contents)) this.emit('output', 'stderr', `${path} has no end entry: its recording may be cut short\n`);
    let settings;
    try {
      settings = machineFor(meta, config, BOOT_ATTRIBUTES);
    } catch (e) {
      const message = (e as Error).message;
      if (message.startsWith('launch attribute')) throw new LaunchError(message);
      const hint = imagePath ? '' : ` (the log was recorded with '${meta.guest}': give its image in 'image')`;
      throw new LaunchError(`launch attribute '${imagePath ? 'image' : 'log'}': ${message}${hint}`);
    }
    const disk = this.replayDisk(meta, path, config.disk);
    const overlay = disk?.file;
    const replayer = new Replayer();
    for (const entry of entries) if (entry.kind === 'input' || entry.kind === 'nondet') replayer.push(eventOf(entry));
    this.logged = new Map(entries.filter((e): e is EpochEntry => e.kind === 'epoch').map((e) => [e.epoch, e]));
    this.recording = recordingEvents(meta, entries);
    this.machine = await Machine.create({
      ...settings,
      hashedDevices: hashedDevicesOf(meta),
      nondet: replayer,
      disk: disk && { size: disk.size, mode: disk.mode, read: overlay && ((offset, n) => overlay.read(offset, n)) },
    });
    // Only entries other than nondeterministic values say a boundary was reached (as for a backup).
    const end = entries.filter((e) => e.kind !== 'nondet').reduce((max, e) => Math.max(max, e.at), 0);
    const lastSeq = entries.at(-1)?.seq ?? 0;
    const debug = new MachineDebugger(
      this.machine,
      replayer,
      { available: () => end, entries: () => (ending ? [...entries, ending] : entries), acked: () => lastSeq },
    );
    // Local mode: the guest's writes are laid over the disk as it was at the start, in memory, once each (a
    // revisit of the past repeats them in the debugger's view alone; the timeline keeps what each read returned).
    const onOverlay = (write: DiskWrite, at: number) => {
      if (!debug.isHistory(at)) overlay!.write(write.offset, write.data);
    };
    if (overlay) this.machine.on({ diskWrite: onOverlay });
    return new LocalTarget(`replay of ${meta.guest}`, 1, 'replay', debug);
  }

  /**
   * The disk a recording was made with, as `lockstep replay` builds it: shared mode, reads from the log alone;
   * local mode, FILE as the header names it or where `disks` says it is now (its hash checked), never written.
   */
  private replayDisk(meta: LogMeta, path: string, given: string | undefined): ReplayDisk | undefined {
    try {
      const { disk, close } = recordedDisk(meta, given, 'put it back there, or say where it is now in \'disks\'');
      this.releaseDisk = close;
      return disk;
    } catch (e) {
      throw new LaunchError(`launch attribute '${given === undefined ? 'log' : 'disks'}': ${path}: ${(e as Error).message}`);
    }
  }

  /** A replay's panel is filled from the file first: its entries, outputs, failovers and charts. */
  override async begin(start: Start): Promise<void> {
    for (const event of this.recording) this.emit('custom', event);
    return super.begin(start);
  }

  private async single(): Promise<LocalTarget> {
    const config = this.config as Extract<LaunchConfig, { kind: 'single' | 'ft' }>;
    const recorder = new Recorder(() => undefined);
    const file = this.claimDisk(config.disks?.[0]?.file);
    // Reads are logged with their data (as in shared mode): going back replays them, never reading FILE again.
    const disk = file && { size: file.size, mode: 'shared' as const, read: (offset: number, length: number) => file.read(offset, length) };
    this.machine = await Machine.create({ ...resolveSpec(config, BOOT_ATTRIBUTES).settings, nondet: recorder, disk });
    const debug = new MachineDebugger(this.machine, recorder);
    // Only new writes reach FILE: a revisit of the past repeats them in the debugger's view alone.
    const onFile = (write: DiskWrite, at: number) => {
      if (!debug.isHistory(at)) file!.write(write.offset, write.data);
    };
    if (file) this.machine.on({ diskWrite: onFile });
    return new LocalTarget(config.guest, 1, 'machine', debug);
  }

  /** The session's disk, FILE itself, open and locked until the session ends (as `lockstep run --disk` holds it). */
  private claimDisk(path: string | undefined): DiskFile | undefined {
    if (path === undefined) return undefined;
    const locked = openLockedDisk(path);
    this.releaseDisk = locked.close;
    return locked.file;
  }

  async terminate(): Promise<void> {
    this.local?.machine.cancel();
    this.machine?.destroy();
    this.machine = undefined;
    this.releaseDisk?.();
    this.releaseDisk = undefined;
  }

  protected lead(): Target {
    if (!this.local) throw new Error('the session has not started');
    return this.local;
  }

  protected threadName(target: Target): string {
    return `${target.role}: ${target.id}`;
  }

  /** A local machine moves only within movements (a free run is a `continue` that a pause ends). */
  protected readonly runsFree = false;

  protected async resumeAll(): Promise<void> {
    throw new Error('a local machine does not run on its own');
  }

  /** A replay's divergence is its own epoch hashes against those in the file. */
  async divergence(): Promise<DivergenceView> {
    if (this.config.kind !== 'replay') return { divergences: [] };
    const replayed = await this.epochs(1);
    const both = replayed.filter((e) => this.logged.has(e.index));
    const compare = (e: (typeof replayed)[number]) => ({
      epoch: e.index,
      at: e.at,
      hashes: { log: this.logged.get(e.index)!.hash, replay: e.hash },
    });
    const divergences = both
      .filter((e) => this.logged.get(e.index)!.hash !== e.hash)
      .map((e) => ({ ...compare(e), pages: [], parts: [] }));
    const last = both.at(-1);
    return {
      lastCompared: last && { ...compare(last), equal: this.logged.get(last.index)!.hash === last.hash },
      divergences,
    };
  }
}

function eventOf(entry: Extract<LogEntry, { kind: 'input' | 'nondet' }>): RecordedEvent {
  const { seq: _seq, ...event } = entry;
  return event as RecordedEvent;
}
