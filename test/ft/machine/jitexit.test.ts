// Single-instruction stepping through slices where v86's compiled code page-faulted (jitexit.ts):
// the JIT had counted the rest of the faulting basic block, and a stepped run must count the same,
// or every later stop in the slice shows another instruction than the one the count names. The
// pager guest (guests/pager) page-faults inside its hot, compiled loop on every page it touches.
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Timeline } from '../../../src/ft/debug';
import { countBeforeExit, imagesDir, loadImage, Machine, Recorder, type SliceRecord } from '../../../src/ft/machine';

const EPOCH = 1_000_000;

/** What the guest can see: registers and memory (not v86's lazy flags, which JIT and interpreter keep differently). */
function guestState(machine: Machine): string {
  return JSON.stringify(machine.registers) + createHash('sha256').update(machine.memory).digest('hex');
}

describe('stepping through JIT code that page-faults (guests/pager)', function () {
  this.timeout(300_000);
  let timeline: Timeline;
  let faulting: SliceRecord[];

  before(async () => {
    const machine = await Machine.create({
      image: loadImage(join(imagesDir(), 'pager.elf')), cmdline: 'passes=6 pages=512', epochLength: EPOCH,
      nondet: new Recorder(() => {}),
    });
    timeline = new Timeline(machine, { source: new Recorder(() => {}) });
    timeline.runTo(Number.MAX_SAFE_INTEGER);
    assert.ok(machine.isEnded, 'pager ends by itself');
    faulting = [...timeline.slices()].filter((s) => s.exits.some((e) => e.next !== e.eip && e.at > s.from));
  });

  after(() => timeline.machine.destroy());

  it('records where compiled code left by exit_jit, and the JIT had counted instructions past a fault', () => {
    assert.ok(faulting.length >= 5, `${faulting.length} slices with a page fault in compiled code`);
    assert.ok(faulting.some((s) => s.exits.some((e) => e.at - s.from > 1)), 'a fault that left uncounted instructions');
  });

  it('a slice stepped through its JIT exits ends in the state the whole-slice run has there', () => {
    for (const slice of faulting.slice(0, 8)) {
      timeline.runTo(slice.to);
      const whole = guestState(timeline.machine);
      assert.deepEqual(timeline.runTo(slice.to - 1), { at: slice.to - 1, reason: 'exact', halted: false });
      assert.equal(timeline.stepInstruction().at, slice.to);
      assert.equal(guestState(timeline.machine), whole, `the slice from ${slice.from} stepped to its end`);
    }
  });

  it('stops right after a fault show the handler, and every count the JIT skipped shows the faulting instruction', () => {
    for (const slice of faulting.slice(0, 8)) {
      const exit = slice.exits.find((e) => e.next !== e.eip)!;
      assert.deepEqual(timeline.runTo(exit.at), { at: exit.at, reason: 'exact', halted: false });
      assert.equal(timeline.machine.registers.eip, exit.next, `after the fault at ${exit.at}`);
      const back = timeline.stepBack();
      assert.equal(back.at, exit.at - 1);
      assert.equal(timeline.machine.registers.eip, exit.eip, `before the fault at ${exit.at}`);
      assert.deepEqual(Object.values(timeline.machine.registers).slice(0, 8), exit.registers.map((r) => r >>> 0));
    }
  });

  it('leaves modules without an exit path as they are, and refuses an exit path of another shape', () => {
    const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    const empty = Uint8Array.from(header);
    assert.equal(countBeforeExit(empty), empty);
    // One import, e.exit_jit (a function of type 0), and a code section that calls it with no counter update after.
    const imports = [0x02, 0x0e, 0x01, 0x01, 0x65, 0x08, ...Buffer.from('exit_jit'), 0x00, 0x00];
    const code = [0x0a, 0x06, 0x01, 0x04, 0x00, 0x10, 0x00, 0x0b];
    assert.throws(() => countBeforeExit(Uint8Array.from([...header, ...imports, ...code])), /0 exit_jit paths followed by the counter update, expected 1/);
  });
});
