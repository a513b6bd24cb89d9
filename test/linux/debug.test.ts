// The debugger's engine (Timeline) inside Linux, the JIT on, paging on: exact stops at random counts
// through the boot and around kvd's start (3.13-3.26 G), and a step back that lands on N-1 with the
// registers an independent machine, stopped at N-1 by another route, has there. How many stops were
// in user space is printed: in probes of that window every stop was in the kernel (CPL 0), the guest
// mostly halted, so user space is not yet shown to be covered.
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Timeline } from '../../src/ft/debug';
import { linuxGuestDir, loadImage, Machine, Recorder, Replayer, type Nondeterminism, type RecordedEvent } from '../../src/ft/machine';
import { SeededRandom } from '../../src/ft/random';

const EPOCH = 100_000_000;
const END = 3_400_000_000;
/** Around where /init and kvd start. */
const USER_FROM = 3_130_000_000;
const USER_TO = 3_260_000_000;

async function linuxTimeline(source: Nondeterminism): Promise<Timeline> {
  const image = loadImage('linux');
  const { memoryMiB, cmdline } = image.boot!;
  const machine = await Machine.create({ image, memoryMiB, cmdline, epochLength: EPOCH, nondet: source });
  return new Timeline(machine, { source });
}

describe('the debugger inside linux (npm run build:linux)', function () {
  this.timeout(1_200_000);

  before(function () {
    if (!existsSync(join(linuxGuestDir(), 'manifest.json'))) this.skip();
  });

  it('runTo lands on 30 random counts through the boot and kvd\'s start, and stepBack returns the registers of N-1', async () => {
    const seeded = new SeededRandom(1);
    const recorded: RecordedEvent[] = [];
    const timeline = await linuxTimeline(new Recorder((e) => recorded.push(e), { random: () => seeded.nextInt32() }));
    timeline.runTo(END);
    // The independent machine replays the same values, recorded by its own timeline (its own snapshots).
    const replayer = new Replayer();
    recorded.forEach((e) => replayer.push(e));
    const independent = await linuxTimeline(replayer);
    independent.runTo(timeline.frontier);
    try {
      const random = new SeededRandom(0x1e57);
      const picks = Array.from({ length: 30 }, (_, i) => (i % 2
        ? USER_FROM + Math.floor(random.next() * (USER_TO - USER_FROM))
        : EPOCH + Math.floor(random.next() * (timeline.frontier - EPOCH))));
      const privilege = { user: 0, kernel: 0, paging: 0 };
      for (const n of picks) {
        const stop = timeline.runTo(n);
        if (stop.reason === 'halted') {
          // Inside an idle skip: the guest halted below n and executes nothing until its end.
          const slice = timeline.sliceAt(n)!;
          assert.equal(stop.at, slice.to - slice.idle, `halted stop for ${n}`);
          continue;
        }
        assert.deepEqual([stop.at, stop.reason], [n, 'exact'], `the stop for ${n}`);
        const registers = timeline.machine.registers;
        privilege[(registers.cs & 3) === 3 ? 'user' : 'kernel']++;
        if (timeline.machine.registers.cr0 & 0x80000000) privilege.paging++;
        const back = timeline.stepBack();
        assert.equal(back.at, n - 1, `a step back from ${n}`);
        assert.deepEqual(independent.runTo(n - 1), { at: n - 1, reason: 'exact', halted: back.halted }, `the independent stop at ${n - 1}`);
        assert.deepEqual(timeline.machine.registers, independent.machine.registers, `registers at ${n - 1}`);
      }
      console.log(`      (${privilege.kernel} stops in the kernel, ${privilege.user} in user space, ${privilege.paging} with paging on)`);
      assert.ok(privilege.kernel + privilege.user >= 15 && privilege.paging >= 10, JSON.stringify(privilege));
    } finally {
      timeline.machine.destroy();
      independent.machine.destroy();
    }
  });
});
