// Linear to physical addresses, as the guest's page tables say: what the debugger's memory reads and
// writes (which take linear addresses, as `registers.eip` shows them) go through.
import { type Machine, PAGE_SIZE } from '../machine';

const CR0_PAGING = 0x80000000;
const CR4_PSE = 0x10;
const CR4_PAE = 0x20;

/** One page's part of a linear range: `length` bytes from `offset` into the range. */
export interface PhysicalPiece {
  offset: number;
  linear: number;
  /** Undefined when the page is not mapped. */
  physical: number | undefined;
  length: number;
}

/** The linear range `address`..`address + length`, page by page, with where each piece is in memory. */
export function* physicalPieces(machine: Machine, address: number, length: number): Generator<PhysicalPiece> {
  for (let offset = 0; offset < length;) {
    const linear = address + offset;
    const piece = Math.min(length - offset, PAGE_SIZE - (linear % PAGE_SIZE));
    yield { offset, linear, physical: linearToPhysical(machine, linear), length: piece };
    offset += piece;
  }
}

/** Linear to physical (32-bit paging, 4 KiB and 4 MiB pages); undefined when not mapped. */
export function linearToPhysical(machine: Machine, linear: number): number | undefined {
  const { cr0, cr3, cr4 } = machine.registers;
  if (!(cr0 & CR0_PAGING)) return linear;
  if (cr4 & CR4_PAE) throw new RangeError('PAE paging is not supported by the debugger');
  const pde = word(machine, ((cr3 & ~0xfff) >>> 0) + (linear >>> 22) * 4);
  if (pde === undefined || !(pde & 1)) return undefined;
  if (pde & 0x80 && cr4 & CR4_PSE) return ((pde & 0xffc00000) >>> 0) + (linear & 0x3fffff);
  const pte = word(machine, ((pde & ~0xfff) >>> 0) + ((linear >>> 12) & 0x3ff) * 4);
  if (pte === undefined || !(pte & 1)) return undefined;
  return ((pte & ~0xfff) >>> 0) + (linear & 0xfff);
}

/** The little-endian dword at `physical`, or undefined past the end of memory. */
function word(machine: Machine, physical: number): number | undefined {
  if (physical + 4 > machine.memory.length) return undefined;
  return Buffer.from(machine.readPhysical(physical, 4)).readUInt32LE(0);
}
