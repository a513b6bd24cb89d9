// Checkpoints travel in chunks of at most CHECKPOINT_CHUNK bytes (`checkpoint` messages), so that
// heartbeats and acks are not stuck behind one huge frame.
import type { LogChannel } from './channel';

export const CHECKPOINT_CHUNK = 512 * 1024;

/** Sends `bytes` as `checkpoint` chunks, all naming log entry `seq` and instruction count `at`; returns how many. */
export function sendCheckpointChunks(channel: LogChannel, seq: number, at: number, bytes: Uint8Array): number {
  const total = Math.max(1, Math.ceil(bytes.length / CHECKPOINT_CHUNK));
  for (let index = 0; index < total; index++) {
    const data = bytes.subarray(index * CHECKPOINT_CHUNK, (index + 1) * CHECKPOINT_CHUNK);
    channel.send({ kind: 'checkpoint', seq, at, index, total, data });
  }
  return total;
}
