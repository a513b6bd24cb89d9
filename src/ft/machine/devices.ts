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

/** Byte offsets in v86's 8259 state (the layout its own get_state_pic reads), and the master's cascade input. */
const PIC_BYTES = 13;
const PIC_IRR = 3;
const PIC_ELCR = 10;
const PIC_IRQ_VALUE = 11;
const CASCADE = 1 << 2;
const FIRST_SLAVE_IRQ = 8;

/**
 * v86's 8259 pair can wedge every slave interrupt (IRQ 8-15: the NE2000's, the disk's) for good, and the
 * master's lines below IRQ 2 in priority (IRQ 3-7: the serial port's) with them. The
 * master latches the slave's request on IRQ 2 (edge-triggered); when the device withdraws it before the
 * CPU takes it (the Linux NE2000 driver masks the card with interrupts off, right after a frame came in),
 * the latch stays. When the CPU then takes IRQ 2, v86 marks it in service in the master, finds no
 * request in the slave, and delivers nothing: no handler runs, no EOI ever comes, and the master holds
 * IRQ 2 in service for ever. (A real 8259 needs the request held until the CPU takes it and otherwise
 * gives a spurious IRQ 7, which the OS acknowledges.) So when a slave line drops and the slave no longer
 * asks, the master's latch goes too, and the card's next interrupt is a new request.
 */
export function withdrawStaleCascade(cpu: v86.Cpu): void {
  const lower = cpu.device_lower_irq;
  let master: Uint8Array | undefined;
  // A view made again when wasm memory grows (its buffer changes).
  const masterPic = () => new Uint8Array(cpu.wasm_memory.buffer, cpu.get_pic_addr_master(), PIC_BYTES);
  cpu.device_lower_irq = (irq: number) => {
    lower(irq);
    if (irq < FIRST_SLAVE_IRQ) return;
    if (master?.buffer !== cpu.wasm_memory.buffer) master = masterPic();
    if (!(master[PIC_IRQ_VALUE] & CASCADE) && !(master[PIC_ELCR] & CASCADE)) master[PIC_IRR] &= ~CASCADE;
  };
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
