// Number and time formats for the panel: grouped digits, session times, byte rates.

// The adapter's format: a count reads the same in the panel as in the Variables pane.
export { count } from '../../adapter/format';
import { count } from '../../adapter/format';
import type { CheckpointsView } from '../../adapter/protocol';
import type { HeldByCheckpoint } from '../../ft/checkpoint';

/** Compact counts for chart axes: 1.2M, 340k; at most five characters up to 2^53 (9.01P). */
export function compact(n: number): string {
  const abs = Math.abs(n);
  if (abs >= 1e15) return `${trim(n / 1e15)}P`;
  if (abs >= 1e12) return `${trim(n / 1e12)}T`;
  if (abs >= 1e9) return `${trim(n / 1e9)}G`;
  if (abs >= 1e6) return `${trim(n / 1e6)}M`;
  if (abs >= 1e3) return `${trim(n / 1e3)}k`;
  return trim(n);
}

function trim(n: number): string {
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 10 ? n.toFixed(1).replace(/\.0$/, '') : n.toFixed(2).replace(/\.?0+$/, '');
}

/** Session time, from ms: 12.3 s, 4:05.2 */
export function sessionTime(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const minutes = Math.floor(s / 60);
  return `${minutes}:${(s - minutes * 60).toFixed(1).padStart(4, '0')}`;
}

export function bytes(n: number): string {
  if (n >= 1e9) return `${trim(n / 1e9)} GB`;
  if (n >= 1e6) return `${trim(n / 1e6)} MB`;
  if (n >= 1e3) return `${trim(n / 1e3)} kB`;
  return `${Math.round(n)} B`;
}

export const rate = (bytesPerSecond: number) => `${bytes(bytesPerSecond)}/s`;

export function duration(ms: number): string {
  if (ms < 0.005) return '0 ms';
  return ms < 1 ? `${ms.toFixed(2)} ms` : ms < 1000 ? `${ms.toFixed(ms < 10 ? 1 : 0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export const shortHash = (hash: string) => (hash.length > 12 ? `${hash.slice(0, 6)}…${hash.slice(-4)}` : hash);

/** The latest checkpoint in a line: number, dirty pages, bytes, the guest's pause, its ack's delay. */
export function checkpointLine(view: CheckpointsView): string {
  const last = view.recent.at(-1);
  if (!last) return 'none yet';
  const ack = last.ackDelayMs === undefined ? 'waiting for its ack' : `acked after ${duration(last.ackDelayMs)}`;
  const kind = last.full ? ' (full)' : '';
  return `#${count(last.index)}${kind}: ${count(last.dirtyPages)} dirty pages, ${bytes(last.bytes)}, paused ${duration(last.pauseMs)}, ${ack}`;
}

/** Outputs held, per epoch: by the checkpoint whose ack releases them, or the epoch under way. */
export function heldLine(held: HeldByCheckpoint[]): string {
  if (!held.length) return 'none';
  return held.map((h) => `${h.checkpoint === undefined ? 'epoch under way' : `#${count(h.checkpoint)}`}: ${count(h.outputs)}`).join(' · ');
}
