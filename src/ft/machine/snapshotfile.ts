// Snapshot files (`lockstep run --snapshot-file` / `--from-snapshot`): a machine snapshot on disk,
// sealed with a CRC-32. In memory (the debugger's checkpoints, a clone's chunks, which the channel
// checksums per frame) snapshots go unsealed: the CRC of 32 MiB costs about 13 ms, paid here once
// per file rather than at every epoch.
import { readFileSync, writeFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { SnapshotError } from './machine';

const FILE_MAGIC = Buffer.from('LSSNAPF\n', 'latin1');
/** Magic, then the CRC-32 of the snapshot that follows (u32 little-endian). */
const PREFIX_BYTES = FILE_MAGIC.length + 4;

export function writeSnapshotFile(path: string, snapshot: Uint8Array): void {
  const prefix = Buffer.alloc(PREFIX_BYTES);
  FILE_MAGIC.copy(prefix);
  prefix.writeUInt32LE(crc32(snapshot), FILE_MAGIC.length);
  writeFileSync(path, Buffer.concat([prefix, snapshot]));
}

/** The snapshot a file holds, checked against its CRC; a bare snapshot (no seal) is taken as it is. */
export function readSnapshotFile(path: string): Uint8Array {
  const bytes = readFileSync(path);
  if (!bytes.subarray(0, FILE_MAGIC.length).equals(FILE_MAGIC)) return new Uint8Array(bytes);
  if (bytes.length < PREFIX_BYTES) throw new SnapshotError(`${path}: truncated snapshot file (${bytes.length} bytes)`);
  const snapshot = bytes.subarray(PREFIX_BYTES);
  const expected = bytes.readUInt32LE(FILE_MAGIC.length);
  if (crc32(snapshot) !== expected) {
    throw new SnapshotError(`${path}: damaged snapshot file: its ${snapshot.length} bytes after byte ${PREFIX_BYTES} do not match the checksum at byte ${FILE_MAGIC.length} (cut short or changed)`);
  }
  return new Uint8Array(snapshot);
}
