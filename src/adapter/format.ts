// Counts as people read them (1,234,567), in the adapter's texts and in the panel alike.

const grouped = new Intl.NumberFormat('en-US');

/** A count with grouped digits. */
export const count = (n: number) => grouped.format(Math.round(n));

/** A memory range as the data breakpoints describe it: `4 bytes at 0x00101000`. */
export const bytesAt = (at: number, length: number) =>
  `${length} byte${length > 1 ? 's' : ''} at 0x${(at >>> 0).toString(16).padStart(8, '0')}`;
