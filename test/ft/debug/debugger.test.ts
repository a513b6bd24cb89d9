import { strict as assert } from 'node:assert';
import { Machine, Replayer } from '../../../src/ft/machine';
import { RunResult, runGuest } from '../../../src/ft/commands';
import { DebugResult, DebugState } from '../../../src/ft/cluster';
import { MachineDebugger, Timeline } from '../../../src/ft/debug';
import { TEST_EPOCH, shortRun } from '../../support/guests';
import { SeededRandom } from '../../../src/ft/random';

/** A machine replaying the unstopped run's values (as a log replay in the adapter does). */
async function replayMachine(unstopped: RunResult): Promise<{ machine: Machine; log: Replayer }> {
  const run = shortRun('ticker');
  const log = new Replayer();
  unstopped.recorded.forEach((event) => log.push(event));
  const machine = await Machine.create({
    image: run.image,
    cmdline: run.cmdline,
    jit: true,
    epochLength: TEST_EPOCH,
    nondet: log,
  });
  return { machine, log };
}

function stateOf(result: DebugResult): DebugState {
  assert.equal(result.kind, 'state');
  return (result as Extract<DebugResult, { kind: 'state' }>).state;
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('debugger: reverse continue is the timeline\'s, driven a slice per turn', function () {
  this.timeout(600_000);
  let unstopped: RunResult;
  let debug: MachineDebugger;
  let reference: Timeline;

  before(async () => {
    unstopped = await runGuest(shortRun('ticker'));
    const { machine, log } = await replayMachine(unstopped);
    debug = new MachineDebugger(machine, log, { available: () => unstopped.instructions });
    const other = await replayMachine(unstopped);
    reference = new Timeline(other.machine, { source: other.log });
    assert.equal(reference.continue().reason, 'ended');
  });

  it('stops where Timeline.reverseContinue does, with the same registers', async () => {
    const random = new SeededRandom(0xdeb);
    for (let i = 0; i < 4; i++) {
      const n = Math.floor(unstopped.instructions * (0.2 + 0.6 * random.next()));
      const at = stateOf(await debug.execute({ op: 'runTo', at: n })).position;
      const address = stateOf(await debug.execute({ op: 'state' })).registers.eip;
      const after = at + 1 + Math.floor(random.next() * 3_000_000);
      stateOf(await debug.execute({ op: 'runTo', at: after }));
      const state = stateOf(await debug.execute({ op: 'reverseContinue', breakpoints: [address] }));
      reference.runTo(after);
      const expected = reference.reverseContinue({ breakpoints: [address] });
      assert.deepEqual(state.stop, expected, `back from ${after} to ${address.toString(16)}`);
      assert.equal(state.position, expected.at);
      assert.deepEqual(state.registers, reference.machine.registers);
    }
  });

  it('a pause cuts it short where it got to; unpaused, it reaches the start', async () => {
    const never = 0xfffffff0;
    const end = stateOf(await debug.execute({ op: 'runTo', at: unstopped.instructions })).position;
    const reverse = debug.execute({ op: 'reverseContinue', breakpoints: [never] });
    await turn(); // its first stretch is scanned: it waits for its next turn
    const paused = stateOf(await debug.execute({ op: 'pause' }));
    const cut = stateOf(await reverse);
    assert.ok(cut.position > cut.start && cut.position <= end, `paused at ${cut.position}, before it reached the start`);
    assert.equal(paused.position, cut.position);
    const whole = stateOf(await debug.execute({ op: 'reverseContinue', breakpoints: [never] }));
    assert.equal(whole.position, whole.start);
    assert.equal(whole.stop?.at, whole.start);
  });

  it('a reverse data search is cut short by a pause too; unpaused, it reaches the start', async () => {
    // Memory the guest never writes (ticker keeps to its first MiB), so the search goes to the start.
    const untouched = [{ address: 0x00c0_0000, length: 64 }];
    const end = stateOf(await debug.execute({ op: 'runTo', at: unstopped.instructions })).position;
    const reverse = debug.execute({ op: 'reverseContinue', breakpoints: [], watches: untouched });
    await turn(); // its first stretch is replayed: it waits for its next turn
    const paused = stateOf(await debug.execute({ op: 'pause' }));
    const cut = stateOf(await reverse);
    assert.ok(cut.position > cut.start && cut.position <= end, `paused at ${cut.position}, before it reached the start`);
    assert.equal(paused.position, cut.position);
    stateOf(await debug.execute({ op: 'runTo', at: end }));
    const whole = stateOf(await debug.execute({ op: 'reverseContinue', breakpoints: [], watches: untouched }));
    assert.equal(whole.position, whole.start);
  });
});
