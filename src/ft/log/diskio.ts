// What a disk entry carries: a read (an input: its completion, with the data in shared mode) or a
// write (an output marker). First sector (u32), sector count (u32), then the data, if any.

export const SECTOR_SIZE = 512;

export interface DiskRequest { offset: number; length: number }

/**
 * Most data one disk entry carries: a guest may read or write megabytes at once (LBA48), more than a
 * frame takes, so a larger read or write is logged as consecutive entries of at most this much.
 */
export const DISK_ENTRY_BYTES = 256 * 1024;

/** The pieces of at most DISK_ENTRY_BYTES that a read or write of `length` bytes at `offset` is logged as. */
export function diskPieces(offset: number, length: number): DiskRequest[] {
  const pieces: DiskRequest[] = [];
  for (let at = 0; at < length; at += DISK_ENTRY_BYTES) {
    pieces.push({ offset: offset + at, length: Math.min(DISK_ENTRY_BYTES, length - at) });
  }
  return pieces;
}

export function encodeDiskIo(offset: number, length: number, data?: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(8 + (data?.length ?? 0));
  const view = new DataView(bytes.buffer);
  view.setUint32(0, offset / SECTOR_SIZE, true);
  view.setUint32(4, length / SECTOR_SIZE, true);
  if (data) bytes.set(data, 8);
  return bytes;
}

export function decodeDiskIo(bytes: Uint8Array): DiskRequest & { data?: Uint8Array } {
  if (bytes.length < 8) throw new RangeError(`a disk entry of ${bytes.length} bytes is shorter than its 8-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offset = view.getUint32(0, true) * SECTOR_SIZE;
  const length = view.getUint32(4, true) * SECTOR_SIZE;
  if (bytes.length > 8 && bytes.length - 8 !== length) throw new RangeError(`a disk entry of ${length} bytes carries ${bytes.length - 8}`);
  return { offset, length, data: bytes.length > 8 ? bytes.subarray(8) : undefined };
}

/** A disk entry for a person: `sectors 2048+8 (4096 bytes)`. */
export function describeDiskIo(bytes: Uint8Array): string {
  try {
    const { offset, length, data } = decodeDiskIo(bytes);
    return `sectors ${offset / SECTOR_SIZE}+${length / SECTOR_SIZE}${data ? ` (${data.length} bytes)` : ' (no data: local)'}`;
  } catch (error) {
    return `bad disk entry: ${(error as Error).message}`;
  }
}
