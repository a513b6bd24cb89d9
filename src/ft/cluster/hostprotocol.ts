// The host protocol between `lockstep ft` (the cluster) and its host processes: how a host is
// configured, what it reports, and what the cluster (or a debugger) can ask of it. These travel as
// JSON over the process's IPC channel, or as JSON lines to an agent (hostlink.ts). The logging
// channel between hosts is a separate thing (src/ft/channel, docs/protocol.md).
import type { ClockMode, DiskCounts, DiskIdentity, DiskMode, MachineSpec, Registers } from '../machine';
import type { DetectorOptions, ServiceAddress } from '../replication';
import type { EntryKind, Role } from '../log';
import type { Stop } from '../debug';
import type { FaultKindOn } from './faults';
import type { TapOptions } from './tapbridge';
import type { Ping, ViewMessage } from '../view';
import type { CheckpointPolicy, CheckpointStats, CheckpointStoreStats, HeldByCheckpoint, ReplicationMode } from '../checkpoint';

/**
 * The machine every host of a cluster runs: the options `lockstep run` takes (MachineSpec: boot files by path, each
 * host reads them where it runs; memory and command line unset take the guest's own or the default).
 */
export interface GuestConfig extends MachineSpec {
  clock: ClockMode;
  jit: boolean;
  epochLength: number;
  /** The guest's disk: FILE as it was when the run started, and how the hosts share it (docs/ft.md). */
  disk?: DiskIdentity & { mode: DiskMode };
}

export interface HostConfig extends GuestConfig {
  id: string;
  role: Role;
  /** The arbiter generation this host's pair belongs to (the first failover claims it). */
  generation: number;
  secret: string;
  /** The cluster's run, named in recordings so that one run's files are told from another's. */
  session: string;
  /** Backup: the primary's logging-channel address. */
  primary?: { host: string; port: number };
  /** Backup: be cloned from a checkpoint of the running primary instead of booting the image. */
  clone?: boolean;
  service: ServiceAddress;
  /** Primary: where the tap bridge receives frames (lockstep ft --tap), sent there even before it has sent any. */
  tapBridge?: ServiceAddress;
  /** With agents (lockstep ft --agent … --tap): the tap this host bridges on its machine while it is the primary. */
  tap?: TapOptions;
  arbiterDir: string;
  detector: DetectorOptions;
  /** Record the log this host produces or applies to this file. */
  record?: string;
  /** Primary: entries not yet acknowledged before it stalls (bounded log buffer). */
  maxUnacked: number;
  /** Primary: instructions the backup may lag before the primary is slowed. */
  maxLag: number;
  /** Primary: how long to wait for the first backup before running unprotected. */
  waitForBackupMs: number;
  maxInstructions?: number;
  /** Under a debugger: keep a Timeline of the machine and answer `debug` commands (debugger.ts). */
  debug?: HostDebugConfig;
  /**
   * Under a view service (src/ft/view): ping it every interval and act on its views, not on suspicion; a primary
   * keeps up to `backups` backups (`--backups`).
   */
  views?: {
    pingIntervalMs: number;
    backups: number;
    /** `--coordinator etcd://…`: the host pings etcd and reads the views there itself (etcd.ts). */
    etcd?: { endpoints: string[]; deadPings: number };
  };
  /** Where other hosts reach this host's logging channel (its agent's address, or 127.0.0.1): a primary pings it. */
  channelHost?: string;
  /** An idle spare: no role until a view names it backup (then it is cloned from the view's primary). */
  spare?: boolean;
  /** Deterministic replay (VM-FT, the default) or checkpoint replication (Remus), and its checkpoints. */
  mode?: ReplicationMode;
  checkpoint?: CheckpointPolicy;
}

export interface HostStats {
  id: string;
  role: Role | 'halted';
  generation: number;
  /** How far the role has run: under a debugger, its timeline's frontier, wherever the debugger looks. */
  instructions: number;
  guestTimeMs: number;
  seq: number;
  /** Primary: highest seq the backup acknowledged; backup: highest received in order. */
  acked: number;
  backupInstructions?: number;
  entriesSent: number;
  bytesSent: number;
  bytesReceived: number;
  outputsHeld: number;
  outputsReleased: number;
  /**
   * The guest's disk as this host served it. Shared mode (its primary): reads and writes on FILE, writes
   * held (not durable on FILE yet) and re-issued, and the latest writes' delays from the guest's write to
   * durable on FILE (ms). Local mode (either role): reads and writes on its copy, and bytes of it sent to clones.
   * Both: the fdatasyncs made (`syncs`; a local-mode backup makes none until it goes live).
   */
  disk?: DiskCounts & {
    held: number; reissued: number; syncs: number; bytesCloned?: number; durableDelaysMs?: number[];
  };
  /** Primary: datagrams on the service's UDP side that were not Ethernet frames, refused. */
  datagramsRefused: number;
  /** Primary: frames the service dropped because the guest's queue of waiting inputs was full. */
  framesDiscarded: number;
  /** Primary: Ethernet frames the service took in for the guest (net inputs), and released frames it sent out. */
  framesIn: number;
  framesOut: number;
  /** Primary: the latest outputs' Output Rule delays, produced to released (ms); empty in brief stats. */
  outputDelaysMs: number[];
  /** Backup: the latest output entries' turnarounds, arrival to the ack that covers them (ms); empty in brief stats. */
  ackTurnaroundsMs: number[];
  /** Frames the current channel did not send because of injected faults (drop, drop-entry). */
  framesDropped: number;
  /** A partition fault is in effect on this host's end of the logging channel: nothing goes out or comes in. */
  partitioned: boolean;
  duplicatesDropped: number;
  gapsSeen: number;
  /** Backup: resend-froms it sent for a gap, a first ask or an ask again (not those a reconnect sends). */
  resendRequests: number;
  corruptFrames: number;
  /**
   * The latest epochs (at most RECENT_EPOCHS), oldest first: each one is also reported as it comes (an `epoch`
   * report).
   */
  epochs: EpochNote[];
  /** Epochs this host has computed in all. */
  epochCount: number;
  divergences: Divergence[];
  /** Primary: bytes of checkpoints sent to new backups (counted in bytesSent too). */
  checkpointBytesSent: number;
  /** Backup being cloned: checkpoint chunks received of how many. */
  cloning?: { received: number; total: number };
  /** Under a debugger holding the machine: the count it shows (`instructions` is the live progress). */
  debuggerAt?: number;
  /** Checkpoint mode, primary: the checkpoints it took and sent. */
  checkpoints?: CheckpointStats;
  /** Checkpoint mode, primary: the outputs held now, by the checkpoint whose ack releases them. */
  heldByCheckpoint?: HeldByCheckpoint[];
  /** Checkpoint mode, backup: the checkpoints it applied and refused, and the one it holds. */
  checkpointStore?: CheckpointStoreStats;
}

export interface Divergence {
  epoch: number;
  at: number;
  primaryHash: string;
  backupHash: string;
  /** Pages (4 KiB, by number) whose contents differ; empty until the primary's page hashes arrive. */
  pages: number[];
  /** Non-memory components that differ, when known (cpu, pit, uart0, disk, ...). */
  parts: string[];
  /** 4 KiB blocks of the guest's disk (by number) whose known contents differ, when it has a disk. */
  blocks?: number[];
}

export interface EpochNote { index: number; at: number; hash: string }

/** Where a machine ended: its instruction count, its full state hash there, and whether its guest had ended. */
export interface FinalState { at: number; hash: string; guestEnded: boolean }

/**
 * Epochs HostStats carries: stats are polled often, and an idle service reaches an epoch every second for as long as
 * it runs.
 */
export const RECENT_EPOCHS = 32;

/** host → cluster */
export type HostReport =
  /** servicePort: where the first primary's service listens (it picks the port when none was given). */
  | { type: 'ready'; id: string; role: Role; channelPort?: number; servicePort?: number }
  /** lastSeq: the last log entry the host had when the generation began (a new primary's last applied). */
  | { type: 'role'; id: string; role: Role; generation: number; at: number; reason: string; channelPort?: number; lastSeq: number }
  | { type: 'halted'; id: string; reason: string; at: number }
  | { type: 'guest-ended'; id: string; at: number }
  /** The answer to `finish`: where the host's machine ended and its state hash there (none: it had no machine). */
  | { type: 'final'; id: string; end?: FinalState }
  | { type: 'epoch'; id: string; epoch: EpochNote }
  | { type: 'backup-attached'; id: string; at: number; cloned: boolean }
  | { type: 'backup-lost'; id: string; at: number; reason: string }
  | { type: 'divergence'; id: string; divergence: Divergence }
  /** `brief`: the answer to a brief request (HostCommand stats), so one who asked for the full stats can tell. */
  | { type: 'stats'; stats: HostStats; brief: boolean }
  /**
   * A host that could not start. `explained`: the message says what was wrong (bad input, a busy port); else it
   * carries the stack of a bug.
   */
  | { type: 'error'; id: string; message: string; explained: boolean }
  | { type: 'debug-reply'; id: string; request: number; result?: DebugResult; error?: string }
  | { type: 'debug-events'; id: string; entries: EntryNote[]; skipped: number; acked: number; outputs: OutputNote[] }
  | { type: 'ping'; id: string; ping: Ping };

/** The faults a host applies to its end of the logging channel. */
export type ChannelFaultKind = FaultKindOn<'channel' | 'primary-end'>;

/** cluster → host */
export type HostCommand =
  | { type: 'kill-at'; at: number }
  /** Checkpoint mode, primary: die (SIGKILL) halfway through sending its next incremental checkpoint of 2+ chunks. */
  | { type: 'kill-mid-checkpoint' }
  /** `value`: a probability, a delay in ms, or (drop-entry) the seq of the log entry whose next send is dropped. */
  | { type: 'channel-fault'; kind: ChannelFaultKind; value?: number; seed?: number }
  | { type: 'slow'; msPerBatch: number }
  /**
   * `brief`: without the latest delays (outputDelaysMs, ackTurnaroundsMs, disk durableDelaysMs: empty), what
   * the cluster's polls ten times a second ask for; the lists were most of each report's bytes and encoding.
   */
  | { type: 'stats'; brief?: boolean }
  /**
   * Before a stop: a primary stops running its guest and waits until its backup has every entry; a backup
   * replays to `at` (the primary's end) or until its guest ends. Both answer `final`.
   */
  | { type: 'finish'; at?: number }
  | { type: 'stop' }
  | { type: 'debug'; request: number; op: DebugOp }
  /** The view service's answer to a ping. */
  | ({ type: 'view' } & ViewMessage)
  /** With etcd: from view `fromView` on, the host hears no view and pings no more (cut off); none: healed. */
  | { type: 'views-cut'; fromView?: number };

/** cluster → host, all it sends: the configuration first, then commands. */
export type HostMessage = { type: 'config'; config: HostConfig } | HostCommand;

// ---- debugging (debugger.ts executes these on the host's Timeline; src/adapter/ sends them) ----

export interface HostDebugConfig {
  /** Start with the machine held (the role's loop waits) until a `resume`. */
  hold: boolean;
}

/** Everything up to `at` is logged once entry `seq` has arrived (what a paused primary tells its backup). */
export interface LoggedPoint { at: number; seq: number }

/** `address` and `breakpoints` are linear addresses (what EIP shows); memory travels as base64. */
export type DebugOp =
  | { op: 'state' }
  | { op: 'pause' }
  | { op: 'resume' }
  | { op: 'runTo'; at: number; logged?: LoggedPoint }
  | { op: 'step' }
  | { op: 'stepBack' }
  | { op: 'continue'; breakpoints: number[]; watches?: Watch[] }
  | { op: 'reverseContinue'; breakpoints: number[]; watches?: Watch[] }
  | { op: 'read'; address: number; length: number }
  | { op: 'write'; address: number; data: string }
  /** Writes whole sectors of the guest's disk as it knows them (never FILE): one side diverges. */
  | { op: 'writeDisk'; offset: number; data: string }
  | { op: 'setRegister'; name: string; value: number }
  | { op: 'entries'; from: number; count: number; kinds?: EntryKind[] }
  | { op: 'epochs' };

/** A data breakpoint: `length` bytes of linear memory from `address`, stopped at when written (changed). */
export interface Watch {
  address: number;
  length: number;
}

export interface DebugState {
  /** The instruction count the machine is at. */
  position: number;
  /** How far its history is recorded; `position === frontier` (and not stepped) is the live edge. */
  frontier: number;
  /** The first count it can revisit. */
  start: number;
  live: boolean;
  /** The role's own loop is held by the debugger. */
  held: boolean;
  halted: boolean;
  ended: boolean;
  registers: Registers;
  /** Real mode, or protected mode's 32-bit code. */
  bits: 16 | 32;
  /** EIP where the timeline starts: a true instruction boundary (disassembly decodes in step with it). */
  entry: number;
  /**
   * EIPs of the instructions executed right before the position, oldest first (true instruction
   * boundaries, from the timeline: see Timeline.trail); empty when it does not know them.
   */
  trail?: number[];
  guestTimeMs: number;
  /** Epochs reached at or before the position. */
  epoch: number;
  /**
   * The recorded step (a v86 slice, or an idle skip) the position is in: IRQs are delivered and
   * timers run only at its ends. None at the frontier.
   */
  slice?: { from: number; to: number; idle: number };
  log: LogPosition;
  heldOutputs: OutputNote[];
  /** How the last movement ended. */
  stop?: Stop;
  /** Checkpoint mode's backup: the checkpoint shown (it runs no guest; debug/checkpointview.ts). */
  checkpoint?: CheckpointNote;
}

/** A checkpoint a backup holds: its number in its primary's order, and its place in the log and the run. */
export interface CheckpointNote { index: number; seq: number; at: number }

export interface LogPosition {
  /** Highest seq logged (primary) or received (backup). */
  lastSeq: number;
  /** Highest seq whose count is at or before the position. */
  applied: number;
  /** Entries logged or received past the position. */
  pending: number;
  /** Primary: highest seq the backup acknowledged; backup: highest received in order. */
  acked: number;
}

export interface EpochNote { index: number; at: number; hash: string }

/** A log entry, rendered (describeEntry) and sized (encoded frame bytes). */
export interface EntryNote { seq: number; at: number; kind: EntryKind; size: number; text: string }

/** An output under the Output Rule: held until acknowledged, then released. */
export interface OutputNote { seq: number; at: number; text: string; state: 'held' | 'released'; heldMs?: number }

export type DebugResult =
  | { kind: 'state'; state: DebugState }
  | { kind: 'bytes'; address: number; data: string; unreadable: number }
  | { kind: 'entries'; entries: EntryNote[]; total: number }
  | { kind: 'epochs'; epochs: EpochNote[] }
  /** Asked for its state, a host with nothing to show yet says why (a backup before its machine or checkpoint). */
  | { kind: 'waiting'; reason: string };
