// Counts as people read them (1,234,567), in the adapter's texts and in the panel alike.

const grouped = new Intl.NumberFormat('en-US');

/** A count with grouped digits. */
export const count = (n: number) => grouped.format(Math.round(n));

/** A 32-bit value in hex, zero-padded, without a prefix. */
export function hex(value: number, digits = 8): string {
  return (value >>> 0).toString(16).padStart(digits, '0');
}

/** A memory range as the data breakpoints describe it: `4 bytes at 0x00101000`. */
export const bytesAt = (at: number, length: number) => `${length} byte${length > 1 ? 's' : ''} at 0x${hex(at)}`;
