// Failure detection: a peer is suspected when nothing (heartbeat or any other frame) has been heard
// from it for `timeoutMs`. A heartbeat goes out every `heartbeatMs` whatever else is sent, so a
// peer that only receives still proves itself alive. A suspicion is only that: the arbiter decides
// who goes live.
import { EventEmitter } from 'node:events';

export interface DetectorOptions { timeoutMs: number; heartbeatMs: number }

export const DEFAULT_DETECTOR: DetectorOptions = { timeoutMs: 1000, heartbeatMs: 50 };

export class Detector extends EventEmitter<{ suspect: [silentMs: number]; heartbeat: [] }> {
  private lastHeard = performance.now();
  private lastTick = performance.now();
  private timer: NodeJS.Timeout | undefined;
  private suspected = false;

  constructor(readonly options: DetectorOptions) {
    super();
  }

  /** Starts heartbeats and watching; also restarts watching a new peer from now. */
  start(): void {
    this.lastHeard = this.lastTick = performance.now();
    this.suspected = false;
    this.timer ??= setInterval(() => this.tick(), this.options.heartbeatMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Any frame from the peer proves it alive. */
  heard(): void {
    this.lastHeard = performance.now();
  }

  get silentMs(): number {
    return performance.now() - this.lastHeard;
  }

  private tick(): void {
    this.emit('heartbeat');
    // If this process itself was stalled (a long synchronous step), frames from the peer may be
    // waiting unread: our own deafness is not the peer's silence.
    const now = performance.now();
    if (now - this.lastTick > this.options.timeoutMs / 2) this.lastHeard = now;
    this.lastTick = now;
    if (!this.suspected && this.silentMs > this.options.timeoutMs) {
      this.suspected = true;
      this.emit('suspect', this.silentMs);
    }
  }
}
