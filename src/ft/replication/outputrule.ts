// The Output Rule (VM-FT §2.2): the primary may not send an output to the outside world until the
// backup has received and acknowledged the log entry associated with it, so the backup can always
// reproduce every output a client has seen. Each output is held under the seq of its output marker
// and released when the backup's cumulative ack reaches that seq. With no backup (after a failover,
// until a new one is cloned) nothing can be lost by releasing at once.
//
// Under a debugger one more condition holds an output: the debugger shows the guest stopped at an
// instruction, and the machine may have run further (a step at the frontier records a whole slice),
// so an output the guest made after the instruction shown waits until the debugger gets there or lets
// the guest run. Releases stay in seq order.

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

  /**
   * `shownUpTo`: the last instruction count whose outputs may be released (a debugger shows the guest
   * stopped there; Infinity when none does).
   */
  constructor(
    private readonly release: (output: HeldOutput) => void,
    private readonly shownUpTo: () => number = () => Infinity,
  ) {}

  /** Outputs wait for a backup's acks (false while there is none to wait for). */
  get isProtecting(): boolean {
    return this.protecting;
  }

  /** Outputs waiting for an acknowledgement. */
  get holding(): number {
    return this.held.length;
  }

  get heldOutputs(): readonly HeldOutput[] {
    return this.held;
  }

  /** An output the guest produced, as its logged output marker. */
  produce(marker: OutputEntry): void {
    this.held.push({ ...marker, heldAt: performance.now() });
    this.releaseDue();
  }

  /** The backup has received every entry up to `seq`. */
  acknowledge(seq: number): void {
    if (seq <= this.acked) return;
    this.acked = seq;
    this.releaseDue();
  }

  /** The debugger moved on or let the guest run: outputs up to where it is now may go. */
  reveal(): void {
    this.releaseDue();
  }

  /** No backup to wait for (it failed and we won the arbiter, or none is attached): release all. */
  unprotect(): void {
    this.protecting = false;
    this.releaseDue();
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

  /** Releases held outputs from the oldest on, up to the first one still waiting (for an ack, or the debugger). */
  private releaseDue(): void {
    const shown = this.shownUpTo();
    let released = 0;
    for (const output of this.held) {
      if ((this.protecting && output.seq > this.acked) || output.at > shown) break;
      this.emit(output);
      released++;
    }
    if (released) this.held = this.held.slice(released);
  }

  private emit(output: HeldOutput): void {
    this.delays[this.released % KEPT_DELAYS] = performance.now() - output.heldAt;
    this.released++;
    this.bytesReleased += output.data.length;
    this.release(output);
  }
}
