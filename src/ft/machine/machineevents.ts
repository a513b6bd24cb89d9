// What a Machine tells its listeners (machine.ts): epochs, outputs, the guest's disk I/O, inputs
// delivered and slices ended, each at the instruction count of the boundary it belongs to.
import type { DiskWrite } from './disk';
import type { InputEvent } from './nondet';
import type { SliceRecord } from './stepping';
import type { DiskRequest } from '../log';

export interface Epoch {
  index: number;
  at: number;
  hash: string;
  pages: BigUint64Array;
  /** Per-4 KiB-block hashes of what the guest knows of its disk (disk.ts), if it has one. */
  disk?: BigUint64Array;
}

export interface MachineEvents {
  /** Bytes the guest wrote to the serial port during the slice that ended at `at`. */
  output?: (data: Uint8Array, at: number) => void;
  /** An Ethernet frame the guest's NE2000 sent during the slice that ended at `at`. */
  frame?: (frame: Uint8Array, at: number) => void;
  /** An epoch boundary was reached; the machine is canonical and may be snapshotted here. */
  epoch?: (epoch: Epoch) => void;
  /** The guest wrote its disk during the slice that ended at `at` (it saw the write done). */
  diskWrite?: (write: DiskWrite, at: number) => void;
  /** A disk read the guest issued completed at the end of the slice that ended at `at`. */
  diskRead?: (request: DiskRequest, at: number) => void;
  /** An input was delivered to the guest. */
  input?: (input: InputEvent) => void;
  /** A slice ended (after its epoch, if it reached one). */
  slice?: (slice: SliceRecord) => void;
}

/** Why run() returned: the limit, the guest's end, host time to wait for, or its caller's `pause`. */
export type RunEnd = 'limit' | 'halted' | 'idle' | 'paused';

/** A machine's listeners: one set given with `on`, and any number of observers beside them. */
export class MachineListeners {
  private main: MachineEvents = {};
  private observers: MachineEvents[] = [];

  on(events: MachineEvents): void {
    this.main = { ...this.main, ...events };
  }

  /** Returns how to stop observing. */
  observe(events: MachineEvents): () => void {
    this.observers.push(events);
    return () => { this.observers = this.observers.filter((o) => o !== events); };
  }

  emit<K extends keyof MachineEvents>(event: K, ...args: Parameters<NonNullable<MachineEvents[K]>>): void {
    for (const listeners of [this.main, ...this.observers]) {
      (listeners[event] as ((...a: typeof args) => void) | undefined)?.(...args);
    }
  }
}
