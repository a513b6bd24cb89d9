// Write coalescing for the hosts' sockets: on loopback each write costs a syscall and wakes the peer,
// which on a busy machine costs more than the microseconds a frame or a reply waits for the end of
// the current turn of the event loop.
import type { Socket } from 'node:net';

/**
 * Holds what is written to `socket` during this turn of the event loop and sends it in one write when the turn
 * ends.
 */
export function coalesceThisTurn(socket: Socket): void {
  if (socket.writableCorked > 0) return;
  socket.cork();
  process.nextTick(() => socket.uncork());
}
