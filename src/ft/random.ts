// Reproducible randomness for fault injection, workloads, and the guest's randomness in a run that
// must be a pure function of its inputs (`lockstep run --seed`, handed to nondet.ts's Recorder).

/** A small seeded PRNG (a Weyl sequence through a 32-bit mixer): fast and reproducible. */
export class SeededRandom {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x9e3779b9) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 0x1_0000_0000;
  }

  /** A signed 32-bit integer, as RDRAND and v86's get_rand_int give. */
  nextInt32(): number {
    return Math.floor(this.next() * 0x1_0000_0000) | 0;
  }
}
