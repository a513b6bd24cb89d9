// Checkpoints travel in chunks of at most CHECKPOINT_CHUNK bytes (`checkpoint` messages), so that
// heartbeats and acks are not stuck behind one huge frame.
import type { LogChannel } from './channel';

export const CHECKPOINT_CHUNK = 512 * 1024;

/** Chunks of a checkpoint of `length` bytes. */
export function checkpointChunks(length: number): number {
  return Math.max(1, Math.ceil(length / CHECKPOINT_CHUNK));
}

/**
 * Sends `bytes` as `checkpoint` chunks, all naming log entry `seq` and instruction count `at`; returns how many.
 * `upTo` sends only the first chunks (a primary cut off mid-transfer, the test fault of primary.ts).
 */
export function sendCheckpointChunks(
  channel: LogChannel,
  seq: number,
  at: number,
  bytes: Uint8Array,
  upTo = Infinity,
): number {
  const total = checkpointChunks(bytes.length);
  const sent = Math.min(total, upTo);
  for (let index = 0; index < sent; index++) {
    const data = bytes.subarray(index * CHECKPOINT_CHUNK, (index + 1) * CHECKPOINT_CHUNK);
    channel.send({ kind: 'checkpoint', seq, at, index, total, data });
  }
  return sent;
}
