// The Output Rule (VM-FT §2.2): the primary may not send an output to the outside world until the
// backup has received and acknowledged the log entry associated with it, so the backup can always
// reproduce every output a client has seen. Each output is held under the seq of its output marker
// and released when the backup's cumulative ack reaches that seq. With no backup (after a failover,
// until a new one is cloned) nothing can be lost by releasing at once.

import type { OutputEntry } from '../log';

/** An output marker as logged, and when the rule took it. */
export interface HeldOutput extends OutputEntry { heldAt: number }
export interface Release { output: HeldOutput; delayMs: number }

/** Release delays kept, the latest ones: a service that runs for days must not keep one per output. */
const KEPT_DELAYS = 10_000;

export class OutputRule {
  private held: HeldOutput[] = [];
  private acked = 0;
  private protecting = true;
  private readonly delays = new Float64Array(KEPT_DELAYS);
  released = 0;
  bytesReleased = 0;

  constructor(private readonly release: (output: HeldOutput) => void) {}

  /** Outputs waiting for an acknowledgement. */
  get holding(): number {
    return this.held.length;
  }

  get heldOutputs(): readonly HeldOutput[] {
    return this.held;
  }

  /** An output the guest produced, as its logged output marker. */
  produce(marker: OutputEntry): void {
    const output = { ...marker, heldAt: performance.now() };
    if (!this.protecting || marker.seq <= this.acked) this.emit(output);
    else this.held.push(output);
  }

  /** The backup has received every entry up to `seq`. */
  acknowledge(seq: number): void {
    if (seq <= this.acked) return;
    this.acked = seq;
    let released = 0;
    while (released < this.held.length && this.held[released].seq <= seq) this.emit(this.held[released++]);
    if (released) this.held = this.held.slice(released);
  }

  /** No backup to wait for (it failed and we won the arbiter, or none is attached): release all. */
  unprotect(): void {
    this.protecting = false;
    for (const output of this.held) this.emit(output);
    this.held = [];
  }

  /** A backup is attached again: outputs from now on wait for its acks. */
  protect(ackedSeq: number): void {
    this.protecting = true;
    this.acked = ackedSeq;
  }

  /** How long the k-th output released (from 0) was held, in ms, while it is among the latest kept. */
  delayOf(k: number): number | undefined {
    return k >= 0 && k < this.released && k >= this.released - KEPT_DELAYS ? this.delays[k % KEPT_DELAYS] : undefined;
  }

  /** The latest `count` release delays (ms), oldest first. */
  latestDelays(count: number): number[] {
    const n = Math.min(count, this.released, KEPT_DELAYS);
    return Array.from({ length: n }, (_, i) => this.delays[(this.released - n + i) % KEPT_DELAYS]);
  }

  private emit(output: HeldOutput): void {
    this.delays[this.released % KEPT_DELAYS] = performance.now() - output.heldAt;
    this.released++;
    this.bytesReleased += output.data.length;
    this.release(output);
  }
}
