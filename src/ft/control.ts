// The control protocol between `lockstep ft` (the cluster) and its host processes: how a host is
// configured, what it reports, and what the cluster (or a debugger) can ask of it. These travel as
// JSON over the process's IPC channel. The logging channel between hosts is a separate thing
// (channel.ts, docs/protocol.md).
import type { ClockMode } from './clock';
import type { DetectorOptions } from './detector';
import type { Role } from './log';
import type { ServiceAddress } from './service';

export interface GuestConfig {
  guest: string;
  cmdline?: string;
  clock: ClockMode;
  jit: boolean;
  memoryMiB: number;
  epochLength: number;
}

export interface HostConfig extends GuestConfig {
  id: string;
  role: Role;
  /** The arbiter generation this host's pair belongs to (the first failover claims it). */
  generation: number;
  secret: string;
  /** Backup: the primary's logging-channel address. */
  primary?: { host: string; port: number };
  /** Backup: be cloned from a checkpoint of the running primary instead of booting the image. */
  clone?: boolean;
  service: ServiceAddress;
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
}

export interface HostStats {
  id: string;
  role: Role | 'halted';
  generation: number;
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
  outputDelaysMs: number[];
  duplicatesDropped: number;
  gapsSeen: number;
  corruptFrames: number;
  epochs: { index: number; at: number; hash: string }[];
  divergences: Divergence[];
}

export interface Divergence {
  epoch: number;
  at: number;
  primaryHash: string;
  backupHash: string;
  /** Pages (4 KiB, by number) whose contents differ; empty until the primary's page hashes arrive. */
  pages: number[];
  /** Non-memory components that differ, when known (cpu, pit, uart0, ...). */
  parts: string[];
}

/** host → cluster */
export type HostReport =
  | { type: 'ready'; id: string; role: Role; channelPort?: number }
  | { type: 'role'; id: string; role: Role; generation: number; at: number; reason: string; channelPort?: number }
  | { type: 'halted'; id: string; reason: string; at: number }
  | { type: 'guest-ended'; id: string; at: number }
  | { type: 'backup-attached'; id: string; at: number; cloned: boolean }
  | { type: 'backup-lost'; id: string; at: number; reason: string }
  | { type: 'divergence'; id: string; divergence: Divergence }
  | { type: 'stats'; stats: HostStats }
  | { type: 'error'; id: string; message: string };

export type ChannelFaultKind = 'partition' | 'heal' | 'drop' | 'duplicate' | 'corrupt' | 'delay';

/** cluster → host */
export type HostCommand =
  | { type: 'kill-at'; at: number }
  | { type: 'channel-fault'; kind: ChannelFaultKind; value?: number; seed?: number }
  | { type: 'slow'; msPerBatch: number }
  | { type: 'stats' }
  | { type: 'stop' };
