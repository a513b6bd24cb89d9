// Draws media/icon.png (128×128): two lanes, the primary and the backup, joined by the log entries
// that keep them in lockstep. A few shapes rasterised with 4×4 supersampling into a PNG by hand
// (zlib + CRC-32 from Node), so no image tool is needed.
//   node scripts/icon.mjs
import { writeFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';

const SIZE = 128;
const SS = 4;
const BG = [0x1e, 0x3a, 0x5f];
const PRIMARY = [0x4f, 0xc3, 0xf7];
const BACKUP = [0x81, 0xe6, 0x9b];
const ENTRY = [0xf5, 0xf5, 0xf5];

const inRoundRect = (x, y, x0, y0, x1, y1, r) => {
  const cx = Math.min(Math.max(x, x0 + r), x1 - r);
  const cy = Math.min(Math.max(y, y0 + r), y1 - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r && x >= x0 && x <= x1 && y >= y0 && y <= y1;
};

/** The colour at a point (in 0..128 coordinates), or undefined where the icon is transparent. */
function colourAt(x, y) {
  if (!inRoundRect(x, y, 4, 4, 124, 124, 24)) return undefined;
  if (inRoundRect(x, y, 26, 20, 46, 108, 10)) return PRIMARY;
  if (inRoundRect(x, y, 82, 20, 102, 108, 10)) return BACKUP;
  for (const ty of [36, 54, 72, 90]) if (inRoundRect(x, y, 46, ty - 3, 82, ty + 3, 3)) return ENTRY;
  return BG;
}

function pixels() {
  const rgba = Buffer.alloc(SIZE * SIZE * 4);
  for (let py = 0; py < SIZE; py++) {
    for (let px = 0; px < SIZE; px++) {
      const sum = [0, 0, 0, 0];
      for (let sy = 0; sy < SS; sy++) {
        for (let sx = 0; sx < SS; sx++) {
          const c = colourAt(px + (sx + 0.5) / SS, py + (sy + 0.5) / SS);
          if (!c) continue;
          for (let i = 0; i < 3; i++) sum[i] += c[i];
          sum[3] += 1;
        }
      }
      const o = (py * SIZE + px) * 4;
      if (sum[3] === 0) continue;
      for (let i = 0; i < 3; i++) rgba[o + i] = Math.round(sum[i] / sum[3]);
      rgba[o + 3] = Math.round((255 * sum[3]) / (SS * SS));
    }
  }
  return rgba;
}

function chunk(type, data) {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
}

function png(rgba) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(SIZE, 0);
  header.writeUInt32BE(SIZE, 4);
  header.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA, no interlace
  const rows = Buffer.alloc(SIZE * (SIZE * 4 + 1));
  for (let y = 0; y < SIZE; y++) rgba.copy(rows, y * (SIZE * 4 + 1) + 1, y * SIZE * 4, (y + 1) * SIZE * 4);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', header), chunk('IDAT', deflateSync(rows, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

writeFileSync(new URL('../media/icon.png', import.meta.url), png(pixels()));
