// Epochs keep the JIT's compiled code, so a snapshot must carry the JIT's state and a restore rebuild it:
// a clone (a fresh v86) and the machine restored in place hold, at every later epoch, the JIT state the
// original holds (the same compiled modules at the same table indices, the same bytes of v86's memory
// outside guest RAM) and compute the same epoch hashes. On guests/scatter, whose hot loop spans
// epochs on nine pages of code: without the rebuild the restored machine starts with an empty cache.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { imagesDir, loadImage, Machine, Recorder, type Epoch } from '../../../src/ft/machine';
import { decodeSnapshot } from '../../../src/ft/machine/snapshot';
import type { SavedJit } from '../../../src/ft/machine/jitstate';
import { TEST_EPOCH } from '../../support/guests';

const options = () => ({
  image: loadImage(join(imagesDir(), 'scatter.elf')), epochLength: TEST_EPOCH, cmdline: 'hz=1000 ticks=90', nondet: new Recorder(() => {}),
});
/** Epochs to restore at, and how many epochs each restored machine is followed for. */
const PICKS = [2, 9];
const FOLLOW = 3;

interface Seen { hash: string; jit: SavedJit }

/** The epochs `machine` reaches from here (at most `count`), with its JIT state at each. */
function follow(machine: Machine, count: number, onEpoch?: (epoch: Epoch) => void): Seen[] {
  const seen: Seen[] = [];
  const stop = machine.observe({
    epoch: (epoch) => {
      onEpoch?.(epoch);
      if (seen.length >= count) return;
      seen.push({ hash: epoch.hash, jit: decodeSnapshot(machine.snapshot({ ram: false })).jit });
    },
  });
  while (seen.length < count && !machine.isEnded) machine.runSlice();
  stop();
  return seen;
}

function assertSameJit(actual: Seen[], expected: Seen[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: epochs reached`);
  actual.forEach((seen, i) => {
    const want = expected[i];
    assert.equal(seen.hash, want.hash, `${what}: epoch hash ${i + 1} epochs on`);
    assert.deepEqual(seen.jit.table, want.jit.table, `${what}: table indices holding code ${i + 1} epochs on`);
    seen.jit.modules.forEach((module, m) => assert.ok(Buffer.from(module).equals(want.jit.modules[m]), `${what}: module at ${seen.jit.table[m]} ${i + 1} epochs on`));
    assert.deepEqual(seen.jit.pages, want.jit.pages, `${what}: non-zero pages outside RAM ${i + 1} epochs on`);
    assert.ok(Buffer.from(seen.jit.pageBytes).equals(want.jit.pageBytes), `${what}: v86's memory outside RAM ${i + 1} epochs on`);
  });
}

describe("the JIT's state in snapshots (guests/scatter: hot code spans epochs)", () => {
  it('a clone in a fresh v86 and the machine restored in place hold the JIT state the original holds, epochs later', async () => {
    const original = await Machine.create(options());
    const snapshots = new Map<number, Uint8Array>();
    const unstopped = follow(original, PICKS.at(-1)! + FOLLOW, (epoch) => {
      if (PICKS.includes(epoch.index)) snapshots.set(epoch.index, original.snapshot());
    });
    assert.equal(unstopped.length, PICKS.at(-1)! + FOLLOW, 'scatter runs past every pick');
    for (const [index, snapshot] of snapshots) {
      const { jit } = decodeSnapshot(snapshot);
      assert.ok(jit.table.length > 0, `epoch ${index}: compiled code is live across the epoch (else nothing is tested)`);
      const expected = unstopped.slice(index, index + FOLLOW);
      const clone = await Machine.restore(snapshot, options());
      assertSameJit(follow(clone, FOLLOW), expected, `clone at epoch ${index}`);
      clone.destroy();
      original.restoreFrom(snapshot);
      assertSameJit(follow(original, FOLLOW), expected, `restored in place at epoch ${index}`);
    }
    original.destroy();
  });

  it('refuses a snapshot of the format before the JIT state, in one line', async () => {
    const machine = await Machine.create(options());
    const snapshot = Buffer.from(machine.snapshot());
    const length = snapshot.readUInt32LE(8);
    const header = JSON.parse(snapshot.subarray(12, 12 + length).toString('utf8')) as Record<string, unknown>;
    const old = Buffer.from(JSON.stringify({ ...header, format: 'lockstep-snapshot-1' }));
    const prefix = Buffer.alloc(12);
    snapshot.copy(prefix, 0, 0, 8);
    prefix.writeUInt32LE(old.length, 8);
    assert.throws(
      () => machine.restoreFrom(Buffer.concat([prefix, old, snapshot.subarray(12 + length)])),
      /^SnapshotError: unsupported snapshot format 'lockstep-snapshot-1' \(this Lockstep reads 'lockstep-snapshot-2', which carries the JIT's state: take the snapshot again\)$/,
    );
    machine.destroy();
  });
});
