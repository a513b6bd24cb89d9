// A cloned backup is initialised (may be promoted by the view service) only once it has the primary's
// `protect` entry (issue 18's leftover): its checkpoint restored is not enough, since a clone without
// that entry refuses to go live. A real host (in this process) cloned over a real logging channel from
// a stand-in primary that sends a real kv machine's snapshot and holds `protect` back until told.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listenChannel, sendCheckpointChunks, type Channel, type ChannelServer } from '../../../src/ft/channel';
import { Host, type HostConfig, type HostReport } from '../../../src/ft/cluster';
import { Machine, Recorder, resolveSpec } from '../../../src/ft/machine';
import type { Ping } from '../../../src/ft/view';
import { until } from '../../support/cluster';
import { TEST_EPOCH } from '../../support/guests';

const SECRET = 'initialised-test';
/** The log position the stand-in primary says its checkpoint was taken at. */
const CLONE_SEQ = 40;

describe('a cloned backup is initialised only with the primary\'s protect entry (host in this process)', function () {
  this.timeout(60_000);
  let dir: string;
  let server: ChannelServer;
  let host: Host | undefined;
  let machine: Machine | undefined;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lockstep-initialised-'));
  });

  afterEach(async () => {
    host?.halt('test over');
    machine?.destroy();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('restored but without protect: pings not initialised and does not go live when a view names it; with it, initialised', async () => {
    server = await listenChannel({ port: 0, secret: SECRET, role: 'primary', expectPeerRole: 'backup' });
    const config: HostConfig = {
      id: 'host-3', role: 'backup', generation: 1, guest: 'kv', clock: 'virtual', jit: true, memoryMiB: 16,
      epochLength: TEST_EPOCH, secret: SECRET, session: 'test', service: { host: '127.0.0.1', port: 0 },
      arbiterDir: dir, detector: { timeoutMs: 30_000, heartbeatMs: 50 }, maxUnacked: 4096, maxLag: 500_000_000,
      waitForBackupMs: 30_000, views: { pingIntervalMs: 50, backups: 1 }, clone: true,
      primary: { host: '127.0.0.1', port: server.port },
    };
    // The stand-in primary: a machine of the same guest, run a little, snapshot at once to whoever asks to be cloned.
    machine = await Machine.create({ ...resolveSpec(config).settings, nondet: new Recorder(() => undefined) });
    machine.run(5_000_000);
    const snapshot = machine.snapshot();
    const at = machine.instructions;
    let backup: Channel | undefined;
    const acks: number[] = [];
    server.on('channel', (channel) => {
      backup = channel;
      channel.on('message', (frame) => {
        if (frame.kind === 'resend-from' && frame.seq === 0) sendCheckpointChunks(channel, CLONE_SEQ, at, snapshot);
        if (frame.kind === 'ack') acks.push(frame.seq);
      });
    });
    const pings: Ping[] = [];
    const reports: HostReport[] = [];
    host = new Host(config, (report) => {
      reports.push(report);
      if (report.type === 'ping') pings.push(report.ping);
    });
    await host.start();
    await until(() => acks.includes(CLONE_SEQ), 'the clone\'s first ack (its checkpoint restored)');
    // Pings sent from here on come from a restored clone.
    const restored = pings.length;
    await until(() => pings.length >= restored + 3, 'three more pings');
    assert.ok(pings.slice(restored).every((p) => !p.initialised), 'restored, no protect: not initialised');

    host.command({ type: 'view', view: { number: 3, primary: 'host-3', backups: [] } });
    await until(() => pings.length >= restored + 6, 'three more pings after the view');
    assert.ok(!reports.some((r) => r.type === 'role' || r.type === 'halted'), 'it neither went live nor halted: it waits');
    assert.ok(pings.slice(restored).every((p) => p.viewNumber === 0), 'it has not acted on the view');

    const protect = (seq: number, clonedAt: number) => {
      backup!.send({ kind: 'control', seq, at, op: 'protect', detail: JSON.stringify({ acked: seq - 1, clonedAt }) });
    };
    // Another clone's protect (its checkpoint taken at another seq) says nothing about this one.
    protect(CLONE_SEQ + 1, CLONE_SEQ - 20);
    await until(() => acks.includes(CLONE_SEQ + 1), 'the other clone\'s protect acknowledged');
    const afterOther = pings.length;
    await until(() => pings.length >= afterOther + 3, 'three more pings');
    assert.ok(pings.slice(afterOther).every((p) => !p.initialised), 'another clone\'s protect: still not initialised');
    protect(CLONE_SEQ + 2, CLONE_SEQ);
    await until(() => pings.at(-1)!.initialised, 'a ping saying initialised once its own protect is in');
  });
});
