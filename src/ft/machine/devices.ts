// v86's devices made deterministic and restorable: what a machine changes in v86's device code so
// that a guest cannot tell two runs apart and a snapshot restores on any machine.
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
