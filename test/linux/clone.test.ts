// Clones of a booting and a booted Linux (the JIT on): a snapshot taken at an epoch boundary, in the
// kernel's boot or once kvd runs, restored into a fresh v86 or into the same machine in place, goes
// on to compute the epochs the unstopped run computed. (A clone in a fresh process: the cloned
// backup of test/linux/ft.test.ts.)
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { linuxGuestDir, loadImage, Machine, Recorder, Replayer, type RecordedEvent } from '../../src/ft/machine';
import { SeededRandom } from '../../src/ft/random';

const EPOCH = 100_000_000;
const END = 3_600_000_000;
/**
 * Epoch indices to clone at: kernel boot (0.3–2.9 G), then /init in user space (from about 3.0 G; kvd is ready at
 * about 4.24 G).
 */
const PICKS = [3, 9, 17, 25, 31, 33];
/** Epochs each clone runs on for. */
const FOLLOW = 2;

function replayerOf(events: RecordedEvent[]): Replayer {
  const replayer = new Replayer();
  events.forEach((event) => replayer.push(event));
  return replayer;
}

describe('linux clones (npm run build:linux)', function () {
  this.timeout(900_000);

  before(function () {
    if (!existsSync(join(linuxGuestDir(), 'manifest.json'))) this.skip();
  });

  it(`snapshots at ${PICKS.length} epochs, restored into a fresh v86 and in place, continue with the unstopped run's epochs`, async () => {
    const image = loadImage('linux');
    const { memoryMiB, cmdline } = image.boot!;
    const random = new SeededRandom(1);
    const recorded: RecordedEvent[] = [];
    const recorder = new Recorder((event) => recorded.push(event), { random: () => random.nextInt32() });
    const options = { image, memoryMiB, cmdline, epochLength: EPOCH };
    const machine = await Machine.create({ ...options, nondet: recorder });
    const hashes: string[] = [];
    const clones = new Map<number, { snapshot: Uint8Array; events: number; cpl: number }>();
    machine.on({
      epoch: (epoch) => {
        hashes.push(epoch.hash);
        if (PICKS.includes(epoch.index)) {
          const cpl = machine.registers.cs & 3;
          clones.set(epoch.index, { snapshot: machine.snapshot(), events: recorded.length, cpl });
        }
      },
    });
    machine.run(END);
    assert.equal(clones.size, PICKS.length, `the run reached epochs ${[...clones.keys()]}`);
    const unstopped = [...hashes];
    /** The next FOLLOW epochs' hashes a machine computes from here. */
    const follow = (m: Machine): string[] => {
      const seen: string[] = [];
      m.on({ epoch: (epoch) => seen.push(epoch.hash) });
      while (seen.length < FOLLOW && !m.isEnded) m.runSlice();
      return seen;
    };
    for (const [index, { snapshot, events, cpl }] of clones) {
      const want = unstopped.slice(index, index + FOLLOW);
      const fresh = await Machine.restore(snapshot, { ...options, nondet: replayerOf(recorded.slice(events)) });
      const freshHashes = follow(fresh);
      fresh.destroy();
      assert.deepEqual(freshHashes, want, `a fresh v86 restored at epoch ${index} (CPL ${cpl})`);
      machine.restoreFrom(snapshot);
      machine.useNondeterminism(replayerOf(recorded.slice(events)));
      assert.deepEqual(follow(machine), want, `the machine restored in place at epoch ${index} (CPL ${cpl})`);
    }
    machine.destroy();
  });
});
