// What a role (primary or backup) needs from the host process it runs in.
import type { Claim } from './arbiter';
import type { LogChannel } from '../channel';
import type { HostConfig, HostReport } from '../cluster';
import type { LogEntry, OutputEntry, Role } from '../log';
import type { DiskOptions, Epoch, InputEvent, Machine, Nondeterminism } from '../machine';
import type { LocalDisk } from './localdisk';
import type { ServiceAddress } from './service';

/** What a backup going live hands its new primary. */
export interface Takeover {
  reason: string;
  /** Inputs logged for the boundary where its replay stopped, not yet delivered. */
  leftoverInputs: InputEvent[];
  /** Disk writes (output markers) it never saw released: the new primary writes them again. */
  reissue: OutputEntry[];
  /**
   * Frames (net output markers) it never saw released: the old primary may not have sent them, so the new
   * primary sends them again, and a receiver's TCP drops the ones it had (VM-FT's argument).
   */
  resend?: OutputEntry[];
  /** The guest's serial output, as logged so far, ends inside a line: the new primary's clients start at the next. */
  serialMidLine?: boolean;
  /** When (performance.now()) this host last heard from the old primary: its guest catches up the time since. */
  silentSince?: number;
}

export interface HostContext {
  readonly config: HostConfig;
  /** Appends an entry to this host's log file, if it records one. */
  record(entry: LogEntry): void;
  /**
   * A cloned backup's checkpoint came, after entry `seq`: its log file is a segment of the entries
   * after it (kept until the checkpoint is restored and openSegment() has created the file).
   */
  recordFrom(seq: number): void;
  openSegment(): Promise<void>;
  /** Writes what the log file holds so far to the OS: a backup is cloned from here, and a joined recording needs it. */
  flushRecording(): void;
  report(report: HostReport): void;
  /** A diagnostic line on the host's stderr (the cluster keeps the last ones; `--verbose` prints them). */
  say(message: string): void;
  noteEpoch(epoch: Epoch): void;
  /** Test-and-set on the arbiter for this host's current generation. */
  claim(): Claim;
  /** Who has claimed this host's current generation, if anyone has (a test without the set). */
  claimedBy(): string | undefined;
  /** Stops this host for good (lost the arbiter, or cannot go on). */
  halt(reason: string): void;
  /**
   * This host won a failover: the next pair generation starts, with this host in `role`, and the log
   * up to `lastSeq` (default: all its primary has logged).
   */
  newGeneration(role: Role, reason: string, channelPort: number | undefined, lastSeq?: number): void;
  /**
   * The tap bridge (lockstep ft --tap) the primary's service sends frames to: the cluster's, or, with agents, one
   * this host opens on its own machine for `service`; undefined without a tap.
   */
  bridgeTap(service: ServiceAddress): Promise<ServiceAddress | undefined>;
  /** A backup that won the arbiter turns into the primary, keeping its machine and log position. */
  becomePrimary(machine: Machine, lastSeq: number, takeover: Takeover): Promise<void>;
  /**
   * The disk a machine gets that is not a shared-mode primary's: in shared mode none to read (a
   * backup's reads come from the log); in local mode this host's own copy.
   */
  machineDisk(): DiskOptions | undefined;
  /**
   * Local mode: this host's copy of the disk (FILE.host-N), made on first call from FILE, or from
   * `contents` (a clone's, sent with its checkpoint); undefined in shared mode or without a disk.
   */
  localDisk(contents?: Uint8Array): LocalDisk | undefined;
  /** Applies the channel faults in force to a new logging-channel connection. */
  configureChannel(channel: LogChannel): void;
  /** Caps a run target at a pending kill point or the instruction limit. */
  limit(target: number): number;
  /** Called after every batch: carries out a kill that is due. */
  afterBatch(machine: Machine): void;
  // Under a debugger (debugger.ts); without one: nothing, false, Infinity, false, nothing.
  /** A role's machine exists (booted or restored), taking its values from `source`; before its first step. */
  machineReady(machine: Machine, source: Nondeterminism): void;
  /** Machine events at count `at` repeat history a debugger revisits: not new output, not a new epoch. */
  isHistory(at: number): boolean;
  /**
   * The last instruction count whose outputs may be released: where a debugger holding the machine
   * shows it stopped (the machine may have run further to record), Infinity otherwise.
   */
  shownUpTo(): number;
  /** A debugger holds the machine: the role's loop must not run it now. */
  debuggerHolds(): boolean;
  /** The role needs its machine now (going live): a debugger puts it back at its frontier and lets go. */
  takeMachineBack(): void;
}
