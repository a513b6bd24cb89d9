// Page compression against the page's previous contents, as Remus's follow-up work did: XOR the new
// page with the old one (the bytes that did not change become zero), then run-length encode the
// zeros. A page of n bytes becomes pairs (u16 zero run, u16 literal length, literal XOR bytes) that
// cover exactly n bytes; decoding XORs the literals back onto the previous contents.

/** Longest run one u16 holds. */
const MAX_RUN = 0xffff;

export class CompressionError extends Error {
  override name = 'CompressionError';
}

export function xorRleEncode(page: Uint8Array, previous: Uint8Array): Uint8Array {
  const out = new Uint8Array(page.length * 2 + 8);
  let o = 0;
  let i = 0;
  while (i < page.length) {
    const zerosFrom = i;
    while (i < page.length && page[i] === previous[i] && i - zerosFrom < MAX_RUN) i++;
    const literalFrom = i;
    while (i < page.length && page[i] !== previous[i] && i - literalFrom < MAX_RUN) i++;
    o = writeU16(out, o, literalFrom - zerosFrom);
    o = writeU16(out, o, i - literalFrom);
    for (let k = literalFrom; k < i; k++) out[o++] = page[k] ^ previous[k];
  }
  return out.slice(0, o);
}

/** The page `encoded` describes, given its previous contents; throws if it does not cover exactly that many bytes. */
export function xorRleDecode(encoded: Uint8Array, previous: Uint8Array): Uint8Array {
  const page = previous.slice();
  let o = 0;
  let i = 0;
  while (i < encoded.length) {
    if (i + 4 > encoded.length) throw new CompressionError(`run header cut short at byte ${i}`);
    o += encoded[i] | (encoded[i + 1] << 8);
    const literal = encoded[i + 2] | (encoded[i + 3] << 8);
    i += 4;
    if (o + literal > page.length || i + literal > encoded.length) throw new CompressionError(`run at byte ${i - 4} runs past the page`);
    for (let k = 0; k < literal; k++) page[o + k] ^= encoded[i + k];
    o += literal;
    i += literal;
  }
  if (o !== page.length) throw new CompressionError(`runs cover ${o} of the page's ${page.length} bytes`);
  return page;
}

function writeU16(out: Uint8Array, at: number, value: number): number {
  out[at] = value & 0xff;
  out[at + 1] = value >> 8;
  return at + 2;
}
