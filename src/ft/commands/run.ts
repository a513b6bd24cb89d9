// A single machine run (`lockstep run`): boot, feed scripted input, optionally clone at an epoch
// boundary (snapshot, destroy, restore into a fresh machine, continue), and report what happened.
import {
  ClockMode,
  DiskCounts,
  DiskMode,
  DiskStore,
  Epoch,
  GuestImage,
  jitTier,
  JitTier,
  Machine,
  MachineOptions,
  markStartup,
  Nondeterminism,
  readSnapshotFile,
  RecordedEvent,
  Recorder,
  Replayer,
  startupTimes,
  StartupTimes,
  writeSnapshotFile,
} from '../machine';
import { InputScript } from './inputscript';
import { SeededRandom } from '../random';

export interface RunOptions {
  image: GuestImage;
  cmdline?: string;
  clock?: ClockMode;
  jit?: boolean;
  memoryMiB?: number;
  epochLength?: number;
  maxInstructions?: number;
  input?: InputScript;
  /** Clone at the first epoch boundary at or past this count. */
  cloneAt?: number;
  /** Write a snapshot at the first epoch boundary at or past `at`, then go on. */
  snapshotTo?: { at: number; path: string };
  /** Start from a snapshot file instead of booting. */
  fromSnapshot?: string;
  bios?: MachineOptions['bios'];
  hashedDevices?: MachineOptions['hashedDevices'];
  instructionsPerMs?: MachineOptions['instructionsPerMs'];
  /** Seeds the guest's random values (RDRAND, v86's get_rand_int); without it they come from the host. */
  seed?: number;
  /** Replay these recorded events instead of taking values from the host (input is then ignored). */
  replay?: RecordedEvent[];
  onSerial?: (data: Uint8Array) => void;
  /**
   * The guest's IDE disk: `file` is read and written (a DiskFile in place, each write durable before the
   * next slice; a DiskOverlay in memory); without one (a replay of a shared-mode recording) reads come from
   * the recorded events and writes go nowhere.
   */
  disk?: { size: number; mode: DiskMode; file?: DiskStore };
}

export interface EpochRecord { index: number; at: number; hash: string }

export interface RunResult {
  instructions: number;
  /** `exited`: the guest wrote its exit code to isa-debug-exit (port 0xF4). */
  end: 'halted' | 'exited' | 'limit';
  exitCode?: number;
  stateHash: string;
  epochHashes: string[];
  epochs: EpochRecord[];
  serial: string;
  wallMs: number;
  mips: number;
  clonedAt?: number;
  snapshotAt?: number;
  recorded: RecordedEvent[];
  disk?: DiskCounts;
  /** When each start-up phase of this process ended (the first machine's). */
  startup: StartupTimes;
  /** Which of V8's compilers compiled the JIT's code in this process (jittier.ts). */
  jitTier: JitTier;
}

export async function runGuest(options: RunOptions): Promise<RunResult> {
  markStartup('image');
  const recorded: RecordedEvent[] = [];
  const seeded = options.seed === undefined ? undefined : new SeededRandom(options.seed);
  const recorder = new Recorder((event) => recorded.push(event), { random: seeded && (() => seeded.nextInt32()) });
  const nondet: Nondeterminism = options.replay ? replayerOf(options.replay) : recorder;
  const input = options.replay ? undefined : options.input;
  const machineOptions: MachineOptions = {
    image: options.image,
    cmdline: options.cmdline,
    clock: options.clock,
    jit: options.jit,
    memoryMiB: options.memoryMiB,
    epochLength: options.epochLength,
    bios: options.bios,
    hashedDevices: options.hashedDevices,
    instructionsPerMs: options.instructionsPerMs,
    nondet,
    disk: options.disk && { size: options.disk.size, mode: options.disk.mode, read: readerOf(options.disk.file) },
  };
  const disk: DiskCounts | undefined = options.disk && { reads: 0, bytesRead: 0, writes: 0, bytesWritten: 0 };
  const limit = options.maxInstructions ?? Number.MAX_SAFE_INTEGER;
  const epochs: EpochRecord[] = [];
  const serial: number[] = [];
  let pendingCheckpoint: Epoch | undefined;
  let clonedAt: number | undefined;
  let snapshotAt: number | undefined;
  const wantsCheckpoint = (at: number) =>
    (options.cloneAt !== undefined && clonedAt === undefined && at >= options.cloneAt) ||
    (options.snapshotTo !== undefined && snapshotAt === undefined && at >= options.snapshotTo.at);

  const attach = (machine: Machine) =>
    machine.on({
      output: (data) => {
        serial.push(...data);
        options.onSerial?.(data);
      },
      epoch: (epoch) => {
        epochs.push({ index: epoch.index, at: epoch.at, hash: epoch.hash });
        if (wantsCheckpoint(epoch.at)) pendingCheckpoint = epoch;
      },
      diskWrite: ({ offset, data }) => {
        options.disk?.file?.write(offset, data);
        disk!.writes++;
        disk!.bytesWritten += data.length;
      },
      diskRead: ({ length }) => {
        disk!.reads++;
        disk!.bytesRead += length;
      },
    });

  const started = performance.now();
  let machine = options.fromSnapshot
    ? await Machine.restore(readSnapshotFile(options.fromSnapshot), machineOptions)
    : await Machine.create(machineOptions);
  attach(machine);
  const startCount = machine.instructions;
  markStartup('firstInstruction');
  while (!machine.isEnded && machine.instructions < limit) {
    const data = input?.due(machine.instructions, machine.serialInputPending === 0);
    if (data) recorder.queue('serial', data);
    machine.runSlice();
    if (machine.waitsForHostTime && !options.replay) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(machine.idleHint, 10)));
    }
    if (!pendingCheckpoint) continue;
    const snapshot = machine.snapshot();
    if (options.snapshotTo && snapshotAt === undefined && pendingCheckpoint.at >= options.snapshotTo.at) {
      writeSnapshotFile(options.snapshotTo.path, snapshot);
      snapshotAt = pendingCheckpoint.at;
    }
    if (options.cloneAt !== undefined && clonedAt === undefined && pendingCheckpoint.at >= options.cloneAt) {
      machine.destroy();
      machine = await Machine.restore(snapshot, machineOptions);
      attach(machine);
      clonedAt = pendingCheckpoint.at;
    }
    pendingCheckpoint = undefined;
  }
  const wallMs = performance.now() - started;
  const result: RunResult = {
    instructions: machine.instructions,
    end: !machine.isEnded ? 'limit' : machine.exitCode === undefined ? 'halted' : 'exited',
    exitCode: machine.exitCode,
    stateHash: machine.currentHash(),
    epochHashes: epochs.map((e) => e.hash),
    epochs,
    serial: Buffer.from(serial).toString('latin1'),
    wallMs,
    mips: (machine.instructions - startCount) / wallMs / 1000,
    clonedAt,
    snapshotAt,
    recorded,
    disk,
    startup: startupTimes(),
    jitTier: jitTier(),
  };
  machine.destroy();
  return result;
}

function readerOf(file: DiskStore | undefined) {
  return file && ((offset: number, length: number) => file.read(offset, length));
}

function replayerOf(events: RecordedEvent[]): Replayer {
  const replayer = new Replayer();
  events.forEach((event) => replayer.push(event));
  return replayer;
}
