// v86's saved state without guest RAM. Checkpoint replication (src/ft/checkpoint) ships RAM as the
// pages that changed, so the rest of the machine is saved and restored with v86's memory packing
// swapped out: save_state packs no pages, and restore_state leaves RAM alone or fills it from a copy
// held elsewhere.
import type { Cpu } from './v86types';

/** Runs `action` with v86's pack_memory packing nothing (restore_state's unpack then skipped, or copying `ram`). */
export function withoutRam<T>(cpu: Cpu, action: () => T, ram?: Uint8Array): T {
  cpu.pack_memory = () => ({ bitmap: { get_buffer: () => new ArrayBuffer(0) }, packed_memory: new Uint8Array(0) });
  cpu.unpack_memory = () => { if (ram) cpu.mem8.set(ram); };
  try {
    return action();
  } finally {
    // The instance's own properties shadowed the prototype's methods: deleting them brings those back.
    delete cpu.pack_memory;
    delete cpu.unpack_memory;
  }
}
