// Timeline.trail: the EIPs of the instructions executed right before a stop (what the disassembly
// anchors on above the current instruction), checked against single steps to the same count.
import { strict as assert } from 'node:assert';
import { Machine, Recorder } from '../../../src/ft/machine';
import { Timeline } from '../../../src/ft/debug';
import { SeededRandom } from '../../../src/ft/random';
import { TEST_EPOCH, shortRun } from '../../support/guests';

describe('Timeline.trail', function () {
  this.timeout(120_000);
  let timeline: Timeline;

  before(async () => {
    const run = shortRun('ticker');
    const recorder = new Recorder(() => undefined);
    const { image, cmdline } = run;
    const machine = await Machine.create({ image, cmdline, epochLength: TEST_EPOCH, nondet: recorder });
    timeline = new Timeline(machine, { source: recorder });
    timeline.runTo(30_000_000);
  });

  it('after a stop, holds the EIPs single steps pass through to it, and the current one last', () => {
    const random = new SeededRandom(24);
    const running = [...timeline.slices()].filter((s) => s.to - s.idle - s.from > 1_000);
    assert.ok(running.length > 10);
    for (let i = 0; i < 10; i++) {
      const slice = running[Math.floor(random.next() * running.length)];
      const at = slice.from + 200 + Math.floor(random.next() * (slice.to - slice.idle - slice.from - 400));
      // The truth: the EIP before each of the 40 instructions up to `at`, one step at a time.
      timeline.runTo(at - 40);
      const stepped: number[] = [];
      while (timeline.position < at) {
        stepped.push(timeline.machine.registers.eip >>> 0);
        timeline.stepInstruction();
      }
      const eip = timeline.machine.registers.eip >>> 0;
      // Elsewhere, then straight to `at` (a restore and a replay, single steps only at the end).
      const elsewhere = running[(running.indexOf(slice) + running.length / 2) % running.length | 0].from;
      timeline.runTo(elsewhere);
      assert.equal(timeline.trail.length, 0, `no trail at a boundary reached by whole slices (${elsewhere})`);
      assert.equal(timeline.runTo(at).at, at);
      const trail = timeline.trail;
      assert.equal(trail.at(-1), eip, `the current instruction's EIP last, at ${at}`);
      assert.ok(trail.length >= 40 && trail.length <= 65, `${trail.length} EIPs`);
      const known = new Set(trail);
      for (const e of stepped) assert.ok(known.has(e), `0x${e.toString(16)}, stepped through before ${at}, is in the trail`);
    }
  });
});
