// Short configurations of the built-in guests for tests: each ends by itself, in a few hundred
// million instructions at most, and exercises what makes it interesting (timers, input, leases).
import { loadImage } from '../../src/ft/machine';
import { InputScript, RunOptions } from '../../src/ft/commands';

export const TEST_EPOCH = 2_000_000;

const KV_SCRIPT = [
  '1 1 PUT a x', '2 1 PUT b y', '1 2 APPEND a z', '2 2 GET a', '1 3 GET b', '1 3 GET b',
  '3 1 GET nokey', '1 1 PUT a again', 'bad line', '2 3 APPEND b w', '2 4 GET b', '0 0 SHUTDOWN',
].map((line, i) => `@${(i + 1) * 7_000_000} ${line}`).join('\n');

const LOCK_SCRIPT = [
  '@1000000 1 1 ACQUIRE x 30', '@2000000 2 1 ACQUIRE x 30', '@3000000 2 2 ACQUIRE y 100',
  '@80000000 2 3 ACQUIRE x 30', '@90000000 1 2 RELEASE x', '@120000000 2 4 RELEASE y',
  '@200000000 0 0 SHUTDOWN',
].join('\n');

export type TestGuest = 'spin' | 'kv' | 'lock' | 'ticker';
export const TEST_GUESTS: TestGuest[] = ['spin', 'kv', 'lock', 'ticker'];

/** Run options for a short, self-ending run of `guest` (a fresh input script each call). */
export function shortRun(guest: TestGuest, extra: Partial<RunOptions> = {}): RunOptions {
  const base: RunOptions = { image: loadImage(guest), epochLength: TEST_EPOCH, maxInstructions: 2_000_000_000 };
  const perGuest: Record<TestGuest, Partial<RunOptions>> = {
    spin: { cmdline: 'iterations=3000000 hz=1000' },
    kv: { input: InputScript.parse(Buffer.from(KV_SCRIPT)) },
    lock: { input: InputScript.parse(Buffer.from(LOCK_SCRIPT)), cmdline: 'hz=1000' },
    ticker: { cmdline: 'hz=1000 ticks=250 every=50' },
  };
  return { ...base, ...perGuest[guest], ...extra };
}

/**
 * spin's checksum for `iterations` steps, computed here from guests/spin/spin.c's algorithm, so a
 * wrong build or a wrong emulation of the guest shows as a mismatch.
 */
export function spinChecksum(iterations: number, pages = 1): string {
  const words = 1024 * pages;
  const shift = 22 - Math.log2(pages);
  const table = new Uint32Array(words);
  for (let i = 0; i < words; i++) table[i] = Math.imul(i, 0x01000193) + 0x811c9dc5;
  let x = 0x9e3779b9;
  for (let i = 0; i < iterations; i++) {
    const idx = x >>> shift;
    const a = table[idx];
    x = Math.imul(x ^ a, 0x85ebca6b) >>> 0;
    x = (x ^ (x >>> 13)) >>> 0;
    x = (x + i) >>> 0;
    table[idx] = a + ((x << 7) | (x >>> 25));
  }
  let sum = x;
  for (let i = 0; i < words; i++) sum = Math.imul(sum ^ table[i], 0x01000193) >>> 0;
  return sum.toString(16).padStart(8, '0');
}
