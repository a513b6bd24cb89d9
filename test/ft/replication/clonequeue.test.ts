// Backups waiting to be cloned (src/ft/replication/clonequeue.ts), from both ends of a real logging
// channel. A backup whose log the primary cannot resume asks again at every heartbeat while it waits:
// queued once per ask, it was cloned at epoch after epoch while another backup's clone waited behind
// it (a Linux failover test saw the primary's only real clone starved until it was killed). And a backup
// that booted its own machine cannot be cloned in place: it ignored the checkpoint and asked for ever.
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectChannel, listenChannel, sendCheckpointChunks, type Channel, type ChannelServer } from '../../../src/ft/channel';
import { Host, type HostConfig, type HostReport } from '../../../src/ft/cluster';
import { Machine, Recorder, resolveSpec } from '../../../src/ft/machine';
import { until } from '../../support/cluster';
import { TEST_EPOCH } from '../../support/guests';

const SECRET = 'clonequeue-test';

function hostConfig(dir: string, extra: Partial<HostConfig>): HostConfig {
  return {
    id: 'host-1', role: 'primary', generation: 1, guest: 'kv', clock: 'virtual', jit: true, memoryMiB: 16,
    epochLength: TEST_EPOCH, secret: SECRET, session: 'test', service: { host: '127.0.0.1', port: 0 },
    arbiterDir: dir, detector: { timeoutMs: 30_000, heartbeatMs: 50 }, maxUnacked: 4096, maxLag: 500_000_000,
    waitForBackupMs: 30_000, ...extra,
  };
}

/** A stand-in backup on the primary's channel: the instruction counts of the checkpoints it is sent. */
async function standInBackup(port: number): Promise<{ channel: Channel; checkpointsAt: number[] }> {
  const channel = await connectChannel({ port, secret: SECRET, role: 'backup' });
  const checkpointsAt: number[] = [];
  channel.on('message', (frame) => { if (frame.kind === 'checkpoint' && frame.index === 0) checkpointsAt.push(frame.at); });
  return { channel, checkpointsAt };
}

describe('backups waiting to be cloned (src/ft/replication/clonequeue.ts; hosts in this process)', function () {
  this.timeout(60_000);
  let dir: string;
  let host: Host | undefined;
  const cleanups: (() => unknown)[] = [];

  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'lockstep-clonequeue-')); });
  afterEach(async () => {
    host?.halt('test over');
    for (const cleanup of cleanups.splice(0)) await cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a primary clones a backup it cannot resume once, however often it asks; the next one waiting is cloned at the next epoch', async () => {
    const reports: HostReport[] = [];
    // No backup within 100 ms: the primary runs on unprotected and keeps no log for one to resume from.
    host = new Host(hostConfig(dir, { waitForBackupMs: 100 }), (report) => reports.push(report));
    await host.start();
    const ready = reports.find((r) => r.type === 'ready');
    assert.ok(ready?.type === 'ready' && ready.channelPort);
    const stale = await standInBackup(ready.channelPort);
    cleanups.push(() => stale.channel.destroy());
    await until(() => reports.some((r) => r.type === 'backup-lost'), 'the primary to run on unprotected');
    for (let ask = 0; ask < 8; ask++) stale.channel.send({ kind: 'resend-from', seq: 1, at: 0 });
    await until(() => stale.checkpointsAt.length === 1, 'the first clone');
    const fresh = await standInBackup(ready.channelPort);
    cleanups.push(() => fresh.channel.destroy());
    const epochs = () => reports.flatMap((r) => (r.type === 'epoch' ? [r.epoch] : []));
    const askedAfter = epochs().at(-1)!.index;
    fresh.channel.send({ kind: 'resend-from', seq: 0, at: 0 });
    await until(() => fresh.checkpointsAt.length === 1, 'the second backup\'s clone');
    // Its ask reaches the primary during the batch after this one or the next (a batch runs at most half an epoch's
    // instructions); queued behind the other's seven asks again, it waited seven epochs more.
    const clonedAt = epochs().find((e) => e.at === fresh.checkpointsAt[0])!.index;
    assert.ok(clonedAt <= askedAfter + 3, `asked after epoch ${askedAfter}, cloned at epoch ${clonedAt}`);
    assert.deepEqual(stale.checkpointsAt.length, 1, 'the backup that asked eight times was cloned once');
  });

  it('a backup that booted its own machine and is sent a checkpoint halts, saying why, rather than ask for ever', async () => {
    const server: ChannelServer = await listenChannel({ port: 0, secret: SECRET, role: 'primary', expectPeerRole: 'backup' });
    cleanups.push(() => server.close());
    const config = hostConfig(dir, { id: 'host-2', role: 'backup', primary: { host: '127.0.0.1', port: server.port } });
    // The stand-in primary answers the backup's first ask (seq 1) with a checkpoint: it went on without this backup.
    const machine = await Machine.create({ ...resolveSpec(config).settings, nondet: new Recorder(() => undefined) });
    cleanups.push(() => machine.destroy());
    machine.run(1_000_000);
    const snapshot = machine.snapshot();
    let asked: number | undefined;
    server.on('channel', (channel) => channel.on('message', (frame) => {
      if (frame.kind !== 'resend-from' || asked !== undefined) return;
      asked = frame.seq;
      sendCheckpointChunks(channel, 40, machine.instructions, snapshot);
    }));
    const reports: HostReport[] = [];
    host = new Host(config, (report) => reports.push(report));
    await host.start();
    await until(() => reports.some((r) => r.type === 'halted'), 'the backup to halt');
    assert.equal(asked, 1);
    const halted = reports.find((r) => r.type === 'halted');
    assert.match(halted?.type === 'halted' ? halted.reason : '', /cannot resume this backup's log from seq 1 .*not cloned in place/);
  });
});
