// The TSC's hidden state. v86's RDTSC returns microtick() * TSC_RATE - offset, extrapolating with
// more state when two readings are equal; all of it lives in wasm statics outside v86's snapshot,
// and restore_state sets the offset relative to the restoring machine's own (which depends on when
// it booted). Lockstep reads and writes those statics directly (their addresses come from
// v86wasm.ts), so a clone's TSC is exactly the original's and probing it reads no clock.
import { v86Module } from './v86wasm';

export class TscState {
  constructor(private readonly memory: WebAssembly.Memory, private readonly addresses = v86Module().tscStatics) {}

  /** Offset first, then the extrapolation state, as decimal strings (JSON-safe). */
  read(): string[] {
    return this.addresses.map((address) => this.view(address)[0].toString());
  }

  write(values: string[]): void {
    if (values.length !== this.addresses.length) throw new Error(`TSC state has ${this.addresses.length} values, got ${values.length}`);
    this.addresses.forEach((address, i) => { this.view(address)[0] = BigInt(values[i]); });
  }

  private view(address: number): BigUint64Array {
    return new BigUint64Array(this.memory.buffer, address, 1);
  }
}
