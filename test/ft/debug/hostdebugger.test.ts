import { strict as assert } from 'node:assert';
import type { DebugOp, DebugResult, HostReport } from '../../../src/ft/cluster';
import { HostDebugger } from '../../../src/ft/debug';
import { loadImage, Machine, Recorder } from '../../../src/ft/machine';

/** A HostDebugger whose replies come back as the answers to `ask`. */
function hostDebugger(id: string): { host: HostDebugger; ask: (op: DebugOp) => Promise<DebugResult | undefined> } {
  type Reply = { resolve: (result: DebugResult | undefined) => void; reject: (error: Error) => void };
  const replies = new Map<number, Reply>();
  const env = { isPrimary: () => true, outputRule: () => undefined };
  const host = new HostDebugger(id, { hold: true }, env, (report: HostReport) => {
    if (report.type !== 'debug-reply') return;
    const reply = replies.get(report.request)!;
    if (report.error === undefined) reply.resolve(report.result);
    else reply.reject(new Error(report.error));
  });
  let request = 0;
  const ask = (op: DebugOp) => new Promise<DebugResult | undefined>((resolve, reject) => {
    replies.set(++request, { resolve, reject });
    host.command(request, op);
  });
  return { host, ask };
}

describe('HostDebugger', () => {
  it('with nothing to show yet (a backup being cloned, a checkpoint backup before its first), answers state with why', async () => {
    const cloned = hostDebugger('host-2');
    const waiting = (reason: string) => ({ kind: 'waiting', reason });
    assert.deepEqual(await cloned.ask({ op: 'state' }), waiting('host-2 has no machine yet (it is being cloned from the primary)'));
    assert.equal(await cloned.ask({ op: 'pause' }), undefined);
    await assert.rejects(cloned.ask({ op: 'read', address: 0, length: 16 }), /host-2 has no machine yet/);
    const checkpoints = hostDebugger('host-3');
    checkpoints.host.showCheckpoints({ heldIndex: undefined, restoreHeld: async () => undefined });
    const first = 'host-3 is waiting for its first checkpoint (the primary sends a full one when its backup attaches)';
    for (const op of ['state', 'runTo'] as const) assert.deepEqual(await checkpoints.ask({ op, at: 1 } as DebugOp), waiting(first), op);
    await assert.rejects(checkpoints.ask({ op: 'read', address: 0, length: 16 }), new RegExp(first.replace(/[()]/g, '\\$&')));
    cloned.host.stop();
    checkpoints.host.stop();
  });

  it('a resume and a pause received in one turn (one read of the pipe) stop at the live edge, still held', async () => {
    const recorder = new Recorder(() => undefined);
    const machine = await Machine.create({ image: loadImage('spin'), cmdline: 'iterations=20000000 hz=1000', memoryMiB: 16, epochLength: 10_000_000, nondet: recorder });
    const { host, ask } = hostDebugger('host-1');
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
