// Lockstep's additions to the Debug Adapter Protocol: custom requests the extension (or any DAP
// client) sends, and custom events the adapter streams for the logging-channel panel. Everything
// here is plain JSON; the extension and the panel import these types, the adapter implements them.
import type { Divergence, FaultKind } from '../ft/cluster';
import type { EntryKind } from '../ft/log';
import type { CheckpointRecord, HeldByCheckpoint, ReplicationMode } from '../ft/checkpoint';

/** A log entry as the panel and `lockstep/logEntries` show it. */
export interface EntryView {
  seq: number;
  /** 64-bit instruction count where it applies. */
  at: number;
  /** `end` only in a replayed file: the recording was closed there. */
  kind: EntryKind;
  /** Encoded frame size in bytes. */
  size: number;
  /** Acknowledged by the backup. */
  acked: boolean;
  /** One-line rendering (describeEntry). */
  text: string;
}

/** Every kind of entry, as `lockstep/logEntries` filters and the panel lists them. */
export const ENTRY_KINDS: readonly EntryView['kind'][] = ['input', 'nondet', 'epoch', 'output', 'control', 'end'];

export interface HostView {
  id: string;
  role: 'primary' | 'backup' | 'spare' | 'halted' | 'dead' | 'stopped';
  /** 0 for an idle spare (launch `hosts`), and for a spare made backup until it follows its primary. */
  generation: number;
  /** How far the host has run live (under the debugger: its recorded frontier). */
  instructions: number;
  /** Where the debugger shows this host's machine, when it holds it (may be far in the past). */
  debuggerAt?: number;
  /** A new backup receiving its checkpoint: chunks received of how many (0 before the first). */
  cloning?: { received: number; total: number };
  /** Not reported yet (just started, or a spare not yet following as backup): `instructions` says nothing. */
  starting?: true;
}

/** `lockstep/channel`: the pair's state, sent a few times a second while a session runs. */
export interface ChannelEventBody {
  /** ms since the session started. */
  time: number;
  hosts: HostView[];
  /** How far the backup trails the primary, live progress to live progress: never negative; 0 while it is cloned. */
  lag: number;
  entriesLogged: number;
  entriesAcked: number;
  /** Highest seq the backup has acknowledged (seqs continue across failovers, without gaps). */
  ackedSeq?: number;
  bytesSent: number;
  /** Of bytesSent, checkpoints sent to new backups (a clone's burst, charted apart from the log). */
  checkpointBytes?: number;
  outputsHeld: number;
  outputsReleased: number;
  /** The guest's disk as the primary serves it; absent without a disk. */
  disk?: DiskView;
  /** How the pair replicates (launch mode "checkpoint": checkpoints, and `checkpoints` says how they go). */
  mode?: ReplicationMode;
  checkpoints?: CheckpointsView;
}

/**
 * Reads and writes the guest made (completed on the primary's side), their bytes, and (shared mode)
 * writes held by the Output Rule and re-issued at go-live.
 */
export interface DiskView {
  reads: number;
  bytesRead: number;
  writes: number;
  bytesWritten: number;
  held: number;
  reissued: number;
}

/** Checkpoint replication, as the primary reports it. */
export interface CheckpointsView {
  taken: number;
  acknowledged: number;
  bytes: number;
  /** The latest checkpoints (number, dirty pages, bytes, pause, ack delay), oldest first. */
  recent: CheckpointRecord[];
  /** Outputs held now, by the checkpoint whose ack releases them. */
  held: HeldByCheckpoint[];
}

/** `lockstep/entries`: entries logged since the previous event, in seq order. */
export interface EntriesEventBody {
  entries: EntryView[];
  /** Entries logged since the previous event but left out (at most 200 go in one event). */
  skipped?: number;
}

/** `lockstep/output`: an output held by the Output Rule, and later its release. */
export interface OutputEventBody {
  seq: number;
  at: number;
  text: string;
  state: 'held' | 'released';
  /** For 'released': how long it was held. */
  heldMs?: number;
  /** ms since the session started, when it was held or released. */
  time?: number;
}

/** `lockstep/divergence`: the backup's epoch hash did not match the primary's (ms since start, when found). */
export type DivergenceEventBody = Divergence & { time?: number };

/** `lockstep/failover`: a host won the arbiter and went live. */
export interface FailoverEventBody {
  generation: number;
  newPrimary: string;
  reason: string;
  time: number;
  /**
   * The last seq the new primary had applied: entries the old primary logged past it died with it
   * (the panel marks them lost); entries up to it survive.
   */
  lastSeq?: number;
}

/** Why a view differs from the one before (the first view has only `first`). */
export type ViewCause =
  /** The first host to ping the view service is made primary. */
  | { kind: 'first'; host: string }
  /** The primary was gone: its backup `host` (the most advanced initialised one) was promoted. */
  | { kind: 'failover'; from: string; host: string }
  /** `host` was made a backup: an idle spare (cloned from the primary), or the pair's first backup. */
  | { kind: 'backup'; host: string; spare: boolean }
  /** `host`, a backup, was gone and left the view. */
  | { kind: 'backup-lost'; host: string };

/** One view of the view service (seed 003), as the panel's view history lists it. */
export interface ViewRecord {
  number: number;
  primary?: string;
  backups: string[];
  /** Its primary has acknowledged it (the view service changes the view only after that). */
  acked: boolean;
  /** ms since the session started, when the view was decided. */
  time: number;
  causes: ViewCause[];
}

/**
 * `lockstep/views` (under a view service only): a view as it is decided and again once its primary
 * acknowledges it, with the hosts that are idle spares then; also when only the spares change.
 */
export interface ViewsEventBody {
  view: ViewRecord;
  /** Live hosts in no role of the view, as the view service sees them (it makes one a backup when one is missing). */
  spares: string[];
  /** ms since the session started. */
  time: number;
}

export interface LockstepEvents {
  'lockstep/channel': ChannelEventBody;
  'lockstep/entries': EntriesEventBody;
  'lockstep/output': OutputEventBody;
  'lockstep/divergence': DivergenceEventBody;
  'lockstep/failover': FailoverEventBody;
  'lockstep/views': ViewsEventBody;
}

/** Custom requests: arguments and response bodies. */
export interface LockstepRequests {
  /** Every machine to `instruction`: a `continued` event, the `stopped` event, then this answer. */
  'lockstep/runToInstruction': { args: { threadId: number; instruction: number }; body: { instruction: number } };
  'lockstep/logEntries': { args: { from: number; count: number; filter?: EntryView['kind'][] }; body: { entries: EntryView[]; total: number } };
  'lockstep/failover': { args: Record<string, never>; body: { newPrimary?: string } };
  /**
   * A fault now (the kinds and their values: FAULT_KINDS in src/ft/cluster/faults.ts). `value`: slow-backup
   * and delay in ms (default 10), drop/duplicate/corrupt a probability from 0 to 1, drop-entry the seq
   * of the log entry whose next send is dropped; the other kinds take none.
   */
  'lockstep/injectFault': { args: { kind: FaultKind; value?: number }; body: Record<string, never> };
  /** The epoch hashes a thread's machine computed (as a run that was never stopped computes them). */
  'lockstep/epochs': { args: { threadId: number }; body: { epochs: { index: number; at: number; hash: string }[] } };
  /**
   * Where clients reach the guest (src/ft/replication/service.ts: whole request lines in, released output out).
   * The extension's guest console connects there as one more client, so what is typed is an input
   * logged like any other. No address for a replay, or before the cluster has started.
   */
  'lockstep/service': { args: Record<string, never>; body: { address?: { host: string; port: number } } };
}

/** Messages the extension relays to the panel webview: the adapter's events, and session starts/ends. */
export type PanelEventMessage = { [K in keyof LockstepEvents]: { type: 'event'; event: K; body: LockstepEvents[K] } }[keyof LockstepEvents];
export type PanelInboundMessage = PanelEventMessage | { type: 'session'; state: 'started' | 'ended'; name?: string };

/** Messages the panel webview posts to the extension. */
export type PanelMessage =
  | { type: 'ready' }
  | { type: 'goToInstruction'; instruction: number }
  | { type: 'fault'; kind: FaultKind; value?: number }
  | { type: 'failover' };
