// The debugger's engine (Timeline) inside Linux, the JIT on, paging on. The guest boots with
// `lockstep.work`, so its /init first runs user-space work (sort | md5sum: CPU-bound, page faults as
// sort's heap grows) between the lines "work: start" and "work: end". Exact stops at random counts
// through the boot and the work, each with a step back that lands on N-1 with the registers an
// independent machine, stopped at N-1 by another route, has there; slices where compiled code
// page-faulted (jitexit.ts) stepped through to their end in the whole-slice run's state; an
// instruction breakpoint at a user address, forwards and in reverse.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Timeline } from '../../src/ft/debug';
import { linuxGuestDir, loadImage, Machine, Recorder, Replayer, type Nondeterminism, type RecordedEvent } from '../../src/ft/machine';
import { SeededRandom } from '../../src/ft/random';

const EPOCH = 100_000_000;
const KERNEL_STOPS = 10;
const WORK_STOPS = 20;
/** Far past where the work ends (about 3.5 G): a guest that never prints a line fails here instead of idling on. */
const PRINT_LIMIT = 10_000_000_000;

async function linuxTimeline(source: Nondeterminism): Promise<Timeline> {
  const image = loadImage('linux');
  const { memoryMiB, cmdline } = image.boot!;
  const machine = await Machine.create({ image, memoryMiB, cmdline: `${cmdline} lockstep.work`, epochLength: EPOCH, nondet: source });
  return new Timeline(machine, { source });
}

/**
 * Records on from the frontier, slice by slice, until the guest has printed `line` (the console ends
 * lines with CR LF); returns the count of the slice that printed it. Whole slices at the frontier, as
 * a primary's loop runs them: a runTo past the frontier would stop mid-slice, and the next one would
 * replay from a snapshot to get back there.
 */
function runUntilPrinted(timeline: Timeline, line: string): number {
  let output = '';
  let at: number | undefined;
  const stop = timeline.observe({
    output: (data, end) => {
      output += Buffer.from(data).toString('latin1');
      if (at === undefined && output.includes(`${line}\r\n`)) at = end;
    },
  });
  try {
    timeline.returnToFrontier();
    const machine = timeline.machine;
    while (at === undefined && !machine.isEnded && timeline.frontier < PRINT_LIMIT) machine.runSlice();
  } finally {
    stop();
  }
  assert.ok(at !== undefined, `the guest printed "${line}" (output: ${JSON.stringify(output.slice(-300))})`);
  return at;
}

function guestState(machine: Machine): string {
  return JSON.stringify(machine.registers) + createHash('sha256').update(machine.memory).digest('hex');
}

const isUser = (machine: Machine) => (machine.registers.cs & 3) === 3;

describe('the debugger inside linux (npm run build:linux)', function () {
  this.timeout(2_400_000);
  let timeline: Timeline;
  let independent: Timeline;
  let work: { from: number; to: number };

  before(async function () {
    if (!existsSync(join(linuxGuestDir(), 'manifest.json'))) this.skip();
    const seeded = new SeededRandom(1);
    const recorded: RecordedEvent[] = [];
    timeline = await linuxTimeline(new Recorder((e) => recorded.push(e), { random: () => seeded.nextInt32() }));
    work = { from: runUntilPrinted(timeline, 'work: start'), to: runUntilPrinted(timeline, 'work: end') };
    // The independent machine replays the same values, recorded by its own timeline (its own snapshots).
    const replayer = new Replayer();
    recorded.forEach((e) => replayer.push(e));
    independent = await linuxTimeline(replayer);
    independent.runTo(timeline.frontier);
  });

  after(() => {
    timeline?.machine.destroy();
    independent?.machine.destroy();
  });

  it('runTo lands on 30 random counts through the boot and user-space work, and stepBack returns the registers of N-1', () => {
    const random = new SeededRandom(0x1e57);
    const between = (from: number, to: number) => from + Math.floor(random.next() * (to - from));
    const picks = [
      ...Array.from({ length: KERNEL_STOPS }, () => between(EPOCH, work.from)),
      ...Array.from({ length: WORK_STOPS }, () => between(work.from, work.to)),
    ];
    const privilege = { user: 0, kernel: 0, paging: 0, halted: 0 };
    for (const n of picks) {
      const stop = timeline.runTo(n);
      if (stop.reason === 'halted') {
        // Inside an idle skip: the guest halted below n and executes nothing until its end.
        const slice = timeline.sliceAt(n)!;
        assert.equal(stop.at, slice.to - slice.idle, `halted stop for ${n}`);
        privilege.halted++;
        continue;
      }
      assert.deepEqual([stop.at, stop.reason], [n, 'exact'], `the stop for ${n}`);
      privilege[isUser(timeline.machine) ? 'user' : 'kernel']++;
      if (timeline.machine.registers.cr0 & 0x80000000) privilege.paging++;
      const back = timeline.stepBack();
      assert.equal(back.at, n - 1, `a step back from ${n}`);
      assert.deepEqual(independent.runTo(n - 1), { at: n - 1, reason: 'exact', halted: back.halted }, `the independent stop at ${n - 1}`);
      assert.deepEqual(timeline.machine.registers, independent.machine.registers, `registers at ${n - 1}`);
    }
    console.log(`      (work from ${work.from} to ${work.to}; stops: ${JSON.stringify(privilege)})`);
    assert.ok(privilege.user >= WORK_STOPS / 2, `at least half the work's stops in user space: ${JSON.stringify(privilege)}`);
    assert.ok(privilege.kernel >= KERNEL_STOPS / 2 && privilege.paging >= 20, JSON.stringify(privilege));
  });

  it('slices where compiled user code page-faulted step through to the whole-slice run\'s state', () => {
    const faulting = [...timeline.slices()]
      .filter((s) => s.from >= work.from && s.to <= work.to && s.exits.some((e) => e.next !== e.eip));
    assert.ok(faulting.length >= 5, `${faulting.length} slices of the work with a fault in compiled code`);
    let user = 0;
    for (const slice of faulting.filter((_, i) => i % Math.ceil(faulting.length / 5) === 0)) {
      timeline.runTo(slice.to);
      const whole = guestState(timeline.machine);
      const exit = slice.exits.find((e) => e.next !== e.eip)!;
      assert.deepEqual(timeline.runTo(exit.at - 1), { at: exit.at - 1, reason: 'exact', halted: false });
      if (isUser(timeline.machine)) user++;
      assert.equal(timeline.machine.registers.eip, exit.eip, `before the fault that ends at ${exit.at}`);
      assert.equal(timeline.stepInstruction().at, exit.at);
      assert.equal(timeline.machine.registers.eip, exit.next, `the fault's handler at ${exit.at}`);
      assert.equal(timeline.runTo(slice.to).at, slice.to);
      timeline.runTo(slice.to - 1);
      timeline.stepInstruction();
      assert.equal(guestState(timeline.machine), whole, `the slice from ${slice.from} stepped to its end`);
    }
    assert.ok(user > 0, 'a fault in user space among them');
  });

  it('an instruction breakpoint at a user address stops there, forwards and in reverse', () => {
    const random = new SeededRandom(0xb9);
    // A user-space stop whose previous instruction is elsewhere: the breakpoint's next execution from
    // N-1 is N, and its last one before N+1 is N.
    let n = 0;
    let eip = 0;
    for (let tries = 0; tries < 50 && !eip; tries++) {
      const candidate = work.from + Math.floor(random.next() * (work.to - work.from));
      if (timeline.runTo(candidate).reason !== 'exact' || !isUser(timeline.machine)) continue;
      const here = timeline.machine.registers.eip;
      timeline.stepBack();
      if (timeline.machine.registers.eip !== here) [n, eip] = [candidate, here];
    }
    assert.ok(eip, 'a user-space stop to put a breakpoint at');
    assert.ok(eip < 0xc0000000, `a user address: 0x${eip.toString(16)}`);
    timeline.runTo(n - 1);
    const forwards = timeline.continue({ breakpoints: [eip] });
    assert.deepEqual([forwards.at, forwards.reason, forwards.eip], [n, 'breakpoint', eip]);
    timeline.runTo(n + 1);
    const backwards = timeline.reverseContinue({ breakpoints: [eip] });
    assert.deepEqual([backwards.at, backwards.reason, backwards.eip], [n, 'breakpoint', eip]);
    assert.equal(timeline.machine.registers.eip, eip);
  });
});
