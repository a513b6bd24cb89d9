// What a cluster run comes to: the records it keeps as it runs (views, roles, failovers) and the
// summary of a run, with every host's figures added up, that `lockstep ft --json` prints.
import type { Divergence, EpochNote, FinalState, HostStats } from './hostprotocol';
import type { ServiceAddress } from '../replication';
import type { Role } from '../log';
import type { View } from '../view';
import type { TapOptions } from './tapbridge';
import type { CheckpointStats, CheckpointSummary, ReplicationMode } from '../checkpoint';

/** A view as it was decided, and when (ms since the cluster started). */
export interface ViewChange extends View { atMs: number }

/** pid: the host's process, when it is a child process of the cluster's (for a person or a test to signal). */
export interface RoleChange {
  host: string; role: Role | 'spare' | 'halted' | 'dead' | 'stopped'; generation: number; atMs: number; reason: string; pid?: number;
}

/** `host-2 (pid 7) is primary (generation 2): reason`; a host that never held a generation (a spare) shows none. */
export const describeRoleChange = (c: RoleChange, withPid = false): string =>
  `${c.host}${withPid && c.pid ? ` (pid ${c.pid})` : ''} is ${c.role}${c.generation ? ` (generation ${c.generation})` : ''}: ${c.reason}`;
/** lastSeq: the log the new primary had; what the old one logged past it was lost with it. */
export interface Failover { generation: number; newPrimary: string; atMs: number; reason: string; lastSeq: number }

/**
 * Where the live primary and its backup ended when the cluster stopped (the backup replayed all it had
 * received first), and whether in the same state: same count and same state hash. `same` is undefined
 * when there was no backup to compare (or a host did not answer).
 */
export interface ClusterEnd {
  primary?: { host: string } & FinalState;
  backup?: { host: string } & FinalState;
  same?: boolean;
}

export interface ClusterSummary {
  guest: string;
  mode: ReplicationMode;
  /** Checkpoint mode: the checkpoints of every primary. */
  checkpoints?: CheckpointSummary;
  service: ServiceAddress;
  hosts: Record<string, { roles: RoleChange[]; stats?: HostStats }>;
  failovers: Failover[];
  divergences: Divergence[];
  entriesSent: number;
  bytesSent: number;
  outputsHeld: number;
  outputsReleased: number;
  /** Datagrams the service's UDP side refused (not Ethernet frames), over every primary. */
  datagramsRefused: number;
  /** Frames the service dropped because the guest's queue was full (a guest that did not run), over every primary. */
  framesDiscarded: number;
  /** Ethernet frames the service took in for the guest, and released frames it sent out, over every primary. */
  framesIn: number;
  framesOut: number;
  tap?: TapOptions;
  epochHashes: Record<string, string[]>;
  end: ClusterEnd;
  wallMs: number;
  /** Under a view service: every view, in order. */
  views?: ViewChange[];
}

/** What the cluster keeps of each host, running or not. */
export interface HostRecord {
  id: string;
  stats?: HostStats;
  /** Every epoch the host reported, in order. */
  epochs: EpochNote[];
  roles: RoleChange[];
}

type HostTotals = Pick<ClusterSummary, 'hosts' | 'epochHashes' | 'entriesSent' | 'bytesSent' | 'outputsHeld' |
  'outputsReleased' | 'datagramsRefused' | 'framesDiscarded' | 'framesIn' | 'framesOut'>;

/** Every host's roles, stats and epoch hashes, and their figures added up. */
export function summarizeHosts(records: Iterable<HostRecord>): HostTotals {
  const totals: HostTotals = {
    hosts: {}, epochHashes: {}, entriesSent: 0, bytesSent: 0, outputsHeld: 0, outputsReleased: 0, datagramsRefused: 0,
    framesDiscarded: 0, framesIn: 0, framesOut: 0,
  };
  for (const { id, roles, stats, epochs } of records) {
    totals.hosts[id] = { roles, stats };
    totals.epochHashes[id] = epochs.map((e) => e.hash);
    totals.entriesSent += stats?.entriesSent ?? 0;
    // Only a sender's bytes: a backup's channel counts the same bytes received.
    if (stats?.entriesSent || stats?.checkpoints?.taken) totals.bytesSent += stats.bytesSent;
    totals.outputsHeld += stats?.outputsHeld ?? 0;
    totals.outputsReleased += stats?.outputsReleased ?? 0;
    totals.datagramsRefused += stats?.datagramsRefused ?? 0;
    totals.framesDiscarded += stats?.framesDiscarded ?? 0;
    totals.framesIn += stats?.framesIn ?? 0;
    totals.framesOut += stats?.framesOut ?? 0;
  }
  return totals;
}

/** The checkpoint figures of every host that took checkpoints (checkpoint mode). */
export function checkpointsOf(records: Iterable<HostRecord>): CheckpointStats[] {
  return [...records].flatMap((record) => (record.stats?.checkpoints ? [record.stats.checkpoints] : []));
}

/**
 * What went to the backups, in a phrase: log entries under deterministic replay; under checkpoint replication
 * (which sends the primary's state, not its inputs: no log entries at all) the checkpoints.
 */
export function describeChannel(summary: Pick<ClusterSummary, 'mode' | 'checkpoints' | 'entriesSent' | 'bytesSent'>): string {
  if (summary.mode !== 'checkpoint') return `logging channel: ${summary.entriesSent} entries, ${summary.bytesSent} bytes`;
  const { count = 0, full = 0 } = summary.checkpoints ?? {};
  return `checkpoint channel: ${count} checkpoints (${full} full), ${summary.bytesSent} bytes (the primary's state, no log entries)`;
}

/** The end in a line: where each ended, and whether in the same state. */
export function describeEnd(end: ClusterEnd): string {
  const { primary, backup, same } = end;
  if (!primary) return 'no primary said where it ended';
  const where = (e: { host: string } & FinalState, role: string) =>
    `${e.host} (${role}) at ${e.at}${e.guestEnded ? ', guest ended' : ''}, state ${e.hash}`;
  if (!backup) return `${where(primary, 'primary')}; no backup to compare`;
  return `${same ? 'the same end' : 'DIFFERENT ends'}: ${where(primary, 'primary')}; ${where(backup, 'backup')}`;
}
