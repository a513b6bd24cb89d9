// The trail: the EIPs of the last instructions stepped before the timeline's position. They are true
// instruction boundaries, which a disassembler cannot tell going backwards (x86 code does not decode in
// reverse). The history is deterministic, so a trail to a count stays true however that count is revisited.

/** Instructions before the position whose EIPs are kept. */
export const TRAIL_LENGTH = 64;

export class Trail {
  /** Oldest first, leading up to count `end`. */
  private eips: number[] = [];
  private end = -1;

  /** Up to TRAIL_LENGTH EIPs before `position` and its own; empty unless single steps reached it. */
  to(position: number): number[] {
    return this.end === position ? this.eips.slice(-TRAIL_LENGTH - 1) : [];
  }

  /** Steps from `position` on: they extend the trail when it ends there, else start a new one. */
  stepFrom(position: number): void {
    if (this.end !== position) this.restart();
  }

  /** Forgets the steps so far (the next ones do not follow them). */
  restart(): void {
    this.eips = [];
  }

  /** The instruction at `eip` is about to be stepped. */
  note(eip: number): void {
    const eips = this.eips;
    if (eips.length >= 4 * TRAIL_LENGTH) eips.splice(0, eips.length - TRAIL_LENGTH);
    if (eips.at(-1) !== eip) eips.push(eip);
  }

  /** The steps ended at `position`. */
  endAt(position: number): void {
    this.end = position;
  }
}
