// Counts as people read them (1,234,567), in the adapter's texts and in the panel alike.

const grouped = new Intl.NumberFormat('en-US');

/** A count with grouped digits. */
export const count = (n: number) => grouped.format(Math.round(n));
