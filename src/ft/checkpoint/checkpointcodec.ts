// A checkpoint (Remus): the machine's state at one epoch boundary as a change to the checkpoint
// before it (`base`), or in full for a new backup. Two regions change page by page: guest RAM, and
// the rest of the machine (CPU and devices: Machine.snapshot without RAM). Encoded as
//   magic "LSCKPT1\0", u32 index, u32 base, f64 at, u8 flags (1 full, 2 compressed),
//   each region: u32 size, u32 pages, then per page u32 number, u8 encoding (0 raw, 1 XOR+RLE), u32 length, bytes;
//   then the CRC-32 of everything before it (u32).
// All little-endian. The channel checks each frame; this CRC checks the whole, so a checkpoint cut
// short or damaged anywhere is refused as a whole, never applied in part.
import { crc32 } from 'node:zlib';

const MAGIC = Buffer.from('LSCKPT1\0', 'latin1');
const FULL = 1;
const COMPRESSED = 2;

export type PageEncoding = 'raw' | 'xor-rle';
const ENCODINGS: PageEncoding[] = ['raw', 'xor-rle'];

export interface PageDelta { page: number; encoding: PageEncoding; data: Uint8Array }
export interface RegionDelta { size: number; pages: PageDelta[] }

export interface Checkpoint {
  /** 1, 2, ... for one primary: the order they were taken in. */
  index: number;
  /** The checkpoint this one changes (0 for a full one). */
  base: number;
  /** The instruction count it was taken at. */
  at: number;
  full: boolean;
  compressed: boolean;
  ram: RegionDelta;
  /** v86's state without RAM, plus what Lockstep keeps beside it (a snapshot without RAM). */
  state: RegionDelta;
}

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export function encodeCheckpoint(checkpoint: Checkpoint): Uint8Array {
  const head = Buffer.alloc(MAGIC.length + 17);
  MAGIC.copy(head);
  head.writeUInt32LE(checkpoint.index, 8);
  head.writeUInt32LE(checkpoint.base, 12);
  head.writeDoubleLE(checkpoint.at, 16);
  head.writeUInt8((checkpoint.full ? FULL : 0) | (checkpoint.compressed ? COMPRESSED : 0), 24);
  const parts: Uint8Array[] = [head, ...encodeRegion(checkpoint.ram), ...encodeRegion(checkpoint.state)];
  const body = Buffer.concat(parts);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(body));
  return Buffer.concat([body, crc]);
}

function encodeRegion(region: RegionDelta): Uint8Array[] {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(region.size);
  head.writeUInt32LE(region.pages.length, 4);
  const parts: Uint8Array[] = [head];
  for (const { page, encoding, data } of region.pages) {
    const pageHead = Buffer.alloc(9);
    pageHead.writeUInt32LE(page);
    pageHead.writeUInt8(ENCODINGS.indexOf(encoding), 4);
    pageHead.writeUInt32LE(data.length, 5);
    parts.push(pageHead, data);
  }
  return parts;
}

/** The checkpoint `bytes` hold; a CheckpointError saying what is wrong and where if they are cut short or damaged. */
export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < MAGIC.length + 17 + 4) throw new CheckpointError(`checkpoint cut short: ${buffer.length} bytes`);
  if (!buffer.subarray(0, MAGIC.length).equals(MAGIC)) throw new CheckpointError('not a checkpoint (bad magic at byte 0)');
  const end = buffer.length - 4;
  if (crc32(buffer.subarray(0, end)) !== buffer.readUInt32LE(end)) {
    throw new CheckpointError(`checkpoint damaged or cut short: its ${end} bytes do not match the CRC-32 at byte ${end}`);
  }
  const reader = { buffer, at: MAGIC.length + 17, end };
  const flags = buffer.readUInt8(24);
  return {
    index: buffer.readUInt32LE(8),
    base: buffer.readUInt32LE(12),
    at: buffer.readDoubleLE(16),
    full: (flags & FULL) !== 0,
    compressed: (flags & COMPRESSED) !== 0,
    ram: decodeRegion(reader, 'RAM'),
    state: decodeRegion(reader, 'machine state'),
  };
}

interface Reader { buffer: Buffer; at: number; end: number }

function take(reader: Reader, length: number, what: string): Buffer {
  if (reader.at + length > reader.end) throw new CheckpointError(`checkpoint ${what} at byte ${reader.at} runs past its end (${reader.end})`);
  const bytes = reader.buffer.subarray(reader.at, reader.at + length);
  reader.at += length;
  return bytes;
}

function decodeRegion(reader: Reader, name: string): RegionDelta {
  const head = take(reader, 8, `${name} header`);
  const size = head.readUInt32LE(0);
  const count = head.readUInt32LE(4);
  const pages: PageDelta[] = [];
  for (let i = 0; i < count; i++) {
    const pageHead = take(reader, 9, `${name} page header`);
    const encoding = ENCODINGS[pageHead.readUInt8(4)];
    if (!encoding) throw new CheckpointError(`checkpoint ${name} page ${pageHead.readUInt32LE(0)} has unknown encoding ${pageHead.readUInt8(4)}`);
    const data = take(reader, pageHead.readUInt32LE(5), `${name} page`);
    pages.push({ page: pageHead.readUInt32LE(0), encoding, data: new Uint8Array(data) });
  }
  return { size, pages };
}

/** The state region grows in steps this big, so that its size rarely changes. */
const STATE_STEP = 64 * 1024;

/**
 * The machine's state (a snapshot without RAM) as the state region: its bytes placed at the region's
 * end, their length in its first 4 bytes. A snapshot starts with JSON whose length varies from one
 * checkpoint to the next; aligned at the start, that would shift every page after it, while at the
 * end the large buffers (VGA memory, device buffers) stay at the same offsets and only change pages.
 */
export function stateRegion(snapshot: Uint8Array): Uint8Array {
  const region = new Uint8Array(Math.ceil((snapshot.length + 4) / STATE_STEP) * STATE_STEP);
  new DataView(region.buffer).setUint32(0, snapshot.length, true);
  region.set(snapshot, region.length - snapshot.length);
  return region;
}

/** The snapshot a state region holds. */
export function snapshotOfState(region: Uint8Array): Uint8Array {
  const length = region.length >= 4 ? new DataView(region.buffer, region.byteOffset).getUint32(0, true) : 0;
  if (length + 4 > region.length) throw new CheckpointError(`the state region of ${region.length} bytes says it holds ${length}`);
  return region.subarray(region.length - length);
}
