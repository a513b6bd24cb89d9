// What `lockstep ft --json` says about a run's checkpoints: totals over every primary of the run,
// and the medians of the latest checkpoints' figures.
import type { CheckpointStats } from './checkpointer';

export interface CheckpointSummary {
  /** Checkpoints taken (full ones, for a new backup, among them) and acknowledged. */
  count: number;
  full: number;
  acknowledged: number;
  bytes: number;
  bytesPerCheckpoint: number;
  bytesSaved: number;
  /** Medians over the latest checkpoints. */
  dirtyPages: number;
  pauseMs: number;
  ackDelayMs: number;
}

export function summarizeCheckpoints(primaries: CheckpointStats[]): CheckpointSummary {
  const sum = (pick: (s: CheckpointStats) => number) => primaries.reduce((total, s) => total + pick(s), 0);
  const count = sum((s) => s.taken);
  const bytes = sum((s) => s.bytes);
  const recent = primaries.flatMap((s) => s.recent);
  return {
    count,
    full: sum((s) => s.full),
    acknowledged: sum((s) => s.acknowledged),
    bytes,
    bytesPerCheckpoint: count ? Math.round(bytes / count) : 0,
    bytesSaved: sum((s) => s.bytesSaved),
    dirtyPages: median(recent.map((r) => r.dirtyPages)),
    pauseMs: round(median(recent.map((r) => r.pauseMs))),
    ackDelayMs: round(median(recent.flatMap((r) => (r.ackDelayMs === undefined ? [] : [r.ackDelayMs])))),
  };
}

function median(values: number[]): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
