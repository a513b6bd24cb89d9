import { strict as assert } from 'node:assert';
import type { DebugOp, DebugResult, HostReport } from '../../../src/ft/cluster';
import { HostDebugger } from '../../../src/ft/debug';
import { loadImage, Machine, Recorder } from '../../../src/ft/machine';

describe('HostDebugger', () => {
  it('a resume and a pause received in one turn (one read of the pipe) stop at the live edge, still held', async () => {
    const recorder = new Recorder(() => undefined);
    const machine = await Machine.create({ image: loadImage('spin'), cmdline: 'iterations=20000000 hz=1000', memoryMiB: 16, epochLength: 10_000_000, nondet: recorder });
    const replies = new Map<number, (result: DebugResult | undefined) => void>();
    const host = new HostDebugger('host-1', { hold: true }, { isPrimary: () => true, outputRule: () => undefined }, (report: HostReport) => {
      if (report.type === 'debug-reply') replies.get(report.request)!(report.result);
    });
    let request = 0;
    const ask = (op: DebugOp) => new Promise<DebugResult | undefined>((resolve) => {
      replies.set(++request, resolve);
      host.command(request, op);
    });
    try {
      host.attach(machine, recorder);
      // Between slice boundaries: the machine is in its recorded past, stepped singly.
      const past = await ask({ op: 'runTo', at: 1_000_000 });
      assert.ok(past?.kind === 'state' && !past.state.live && past.state.frontier > 1_000_000);
      const [, paused] = await Promise.all([ask({ op: 'resume' }), ask({ op: 'pause' })]);
      assert.ok(paused?.kind === 'state');
      assert.equal(paused.state.position, paused.state.frontier, 'the resume went live before the pause');
      assert.ok(host.holds, 'the role loop stays held after the pause (it cannot run a stepped machine)');
      assert.ok(!machine.isStepped);
    } finally {
      host.stop();
      machine.destroy();
    }
  });
});
