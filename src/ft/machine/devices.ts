// v86's devices made deterministic and restorable: what a machine changes in v86's device code so
// that a guest cannot tell two runs apart and a snapshot restores on any machine.
import type { InputEvent } from './nondet';
import type * as v86 from './v86types';

/** The NE2000's MAC on every machine: locally administered, unicast (the backup takes over the same one). */
export const GUEST_MAC = Uint8Array.of(0x02, 0x4c, 0x53, 0x00, 0x00, 0x01);

/**
 * v86 gives its NE2000 (always on the PCI bus) a MAC from Math.random: a guest that reads it would
 * differ from its backup and from its replay. Every machine gets GUEST_MAC instead, in the card's
 * MAC and in its PROM (each byte twice, as v86 lays it out).
 */
export function useGuestMac(net: v86.Ne2k): void {
  net.mac.set(GUEST_MAC);
  GUEST_MAC.forEach((byte, i) => { net.memory[2 * i] = net.memory[2 * i + 1] = byte; });
}

/** QEMU's isa-debug-exit port, which many test kernels write to end a run. */
export const DEBUG_EXIT_PORT = 0xf4;

/**
 * Ports a machine serves itself instead of v86:
 *  - 0x92, fast A20: v86 keeps the byte in a closure, outside its snapshot, and a BIOS reads it back,
 *    so a restored machine would see 0 where the original sees what it wrote;
 *  - 0xF4, isa-debug-exit: a write ends the run as a guest exit, the value written its exit code.
 *    v86 threw a bare string there for multiboot guests (the run ended as "undefined", its last
 *    output lost) and ignored it for the others.
 */
export class OwnedPorts {
  fastA20 = 0;
  exitCode: number | undefined;

  constructor(io: v86.Io, onExit: () => void) {
    io.register_read(0x92, this, () => this.fastA20);
    io.register_write(0x92, this, (value: number) => { this.fastA20 = value; });
    const exit = (value: number) => {
      if (this.exitCode !== undefined) return;
      this.exitCode = value;
      onExit();
    };
    io.register_write(DEBUG_EXIT_PORT, this, exit, exit, exit);
  }
}

/**
 * v86's PCI restore moves I/O BARs that a BIOS-less machine's devices do not have, and throws;
 * this restores the same way but skips BARs the device lacks.
 */
export function restorePciState(pci: v86.Pci): (state: unknown[]) => void {
  return (state: unknown[]) => {
    for (let i = 0; i < 256; i++) {
      const device = pci.devices[i];
      const space = state[i] as Int32Array | undefined;
      if (!device || !space) continue;
      device.pci_bars.forEach((bar, barNumber) => {
        const value = space[4 + barNumber];
        if (bar && value & 1) pci.set_io_bars(bar, bar.original_bar & ~1 & 0xffff, value & ~1 & 0xffff);
      });
      pci.device_spaces[i].set(space);
    }
    pci.pci_addr.set(state[256] as Uint8Array);
    pci.pci_value.set(state[257] as Uint8Array);
    pci.pci_response.set(state[258] as Uint8Array);
    pci.pci_status.set(state[259] as Uint8Array);
  };
}

/** Hands an input to the device it is for, through v86's bus. */
export function deliverInput(bus: v86.Emulator['bus'], input: InputEvent): void {
  if (input.device === 'serial') for (const byte of input.data) bus.send('serial0-input', byte);
  else if (input.device === 'keyboard') for (const byte of input.data) bus.send('keyboard-code', byte);
  else bus.send('net0-receive', input.data);
}
