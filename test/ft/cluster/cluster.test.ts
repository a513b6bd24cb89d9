import { strict as assert } from 'node:assert';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '../../../src/ft/random';
import { checkKvHistory, KvHistory, KvWorkloadOptions, runKvWorkload } from '../../../src/ft/workload';
import { spawn } from 'node:child_process';
import { Cluster, ClusterSummary, parseFault, RECENT_EPOCHS, type HostReport } from '../../../src/ft/cluster';
import type { ClockMode } from '../../../src/ft/machine';
import { describeEntry, readLogFile } from '../../../src/ft/log';
import { replayLogFile } from '../../../src/ft/commands';
import type { ServiceAddress } from '../../../src/ft/replication';
import { clusterOptions, freePort, lastRole, partitionLeavesOneLive, until } from '../../support/cluster';
import { TEST_EPOCH } from '../../support/guests';

const KILL_TRIALS = Number(process.env.LOCKSTEP_KILL_TRIALS ?? 20);
const PARTITION_TRIALS = Number(process.env.LOCKSTEP_PARTITION_TRIALS ?? 4);
const NET_KILL_TRIALS = Number(process.env.LOCKSTEP_NET_KILL_TRIALS ?? 4);

/** Sends request lines one by one and resolves with everything received once `done` matches. */
function sendLines(service: ServiceAddress, lines: string[], done: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(service);
    let received = '';
    socket.on('data', (d) => {
      received += d.toString();
      if (done.test(received)) {
        socket.destroy();
        resolve(received);
      }
    });
    socket.on('error', reject);
    socket.on('connect', async () => {
      for (const line of lines) {
        socket.write(`${line}\n`);
        await new Promise((r) => setTimeout(r, 30));
      }
    });
  });
}

/** Drives each guest to its end through the service (kv and lock need requests). */
async function exercise(guest: string, cluster: Cluster, workload: Partial<KvWorkloadOptions> = {}): Promise<void> {
  if (guest === 'kv') {
    const history = await runKvWorkload({ service: cluster.service, ops: 30, seed: 3, clients: 2, ...workload });
    assert.ok(checkKvHistory(history).ok);
    await sendLines(cluster.service, ['0 0 SHUTDOWN'], /kv bye/);
  } else if (guest === 'lock') {
    // A lease far longer than the exchange: guest time follows wall time at most (the primary paces
    // an idle guest), so it cannot run out before the RELEASE, however the hosts are scheduled. The
    // last lease's expiry (100 ticks) gives the run 100 ms of guest time: several idle epochs.
    const replies = await sendLines(cluster.service, ['1 1 ACQUIRE x 60000', '2 1 ACQUIRE x 60000', '1 2 RELEASE x', '2 2 ACQUIRE x 100'], /EXPIRED x 2 /);
    assert.match(replies, /1 1 GRANTED x\n2 1 BUSY x 1\n1 2 RELEASED x\n/);
    await sendLines(cluster.service, ['0 0 SHUTDOWN'], /lock bye/);
  }
}

/**
 * Kills the primary `offset` instructions from now while kv clients run; they keep going until the
 * failover, however fast they are, so the kill lands mid-run.
 */
async function killDuringWorkload(
  cluster: Cluster,
  offset: number,
  workload: Partial<KvWorkloadOptions>,
): Promise<KvHistory> {
  const start = (await cluster.statsOf('primary'))!.instructions;
  let failedOver = false;
  const failover = new Promise<void>((resolve) => cluster.once('failover', () => resolve()));
  void failover.then(() => (failedOver = true));
  cluster.command('primary', { type: 'kill-at', at: start + offset });
  const history = await runKvWorkload({
    service: cluster.service,
    ops: 60,
    seed: 0,
    clients: 3,
    ...workload,
    continueWhile: () => !failedOver,
  });
  await failover;
  return history;
}

/** The cluster's polls (ten a second) carry no delay lists; statsOf's answers carry the latest delays. */
async function pollsAreBrief(cluster: Cluster): Promise<void> {
  const polled = await new Promise<Extract<HostReport, { type: 'stats' }>>((resolve) => {
    const onReport = (report: HostReport) => {
      if (report.type !== 'stats') return;
      cluster.off('report', onReport);
      resolve(report);
    };
    cluster.on('report', onReport);
  });
  assert.equal(polled.brief, true);
  assert.deepEqual([polled.stats.outputDelaysMs, polled.stats.ackTurnaroundsMs], [[], []], 'a polled report carries no delays');
  const primary = (await cluster.statsOf('primary'))!;
  // Replies that leave in one slice are one output: fewer delays than ops, but never none.
  assert.ok(primary.outputDelaysMs.length > 0, 'statsOf carries the primary\'s latest delays');
}

/** A host's role before the cluster was stopped. */
const SHORT_CMDLINE: Record<string, string | undefined> = { spin: 'iterations=4000000', ticker: 'hz=1000 ticks=300 every=100', lock: 'hz=1000' };

/** Waits until the backup has replayed everything the primary logged, to the same instruction. */
async function caughtUp(cluster: Cluster): Promise<void> {
  await until(async () => {
    const [p, b] = [await cluster.statsOf('primary'), await cluster.statsOf('backup')];
    return !!p && !!b && b.epochCount === p.epochCount && b.instructions === p.instructions;
  }, 'the backup to catch up');
}

/** The control entries of a log file, their detail parsed (JSON, or the text itself). */
async function controlEntries(
  file: string,
): Promise<{ op: string; seq: number; at: number; detail: Record<string, unknown> }[]> {
  const { entries } = await readLogFile(file);
  return entries.flatMap((e) => (e.kind === 'control' ? [{ op: e.op, seq: e.seq, at: e.at, detail: e.detail.startsWith('{') ? JSON.parse(e.detail) : { text: e.detail } }] : []));
}

const clusters: Cluster[] = [];
function track(cluster: Cluster): Cluster {
  clusters.push(cluster);
  return cluster;
}

describe('FT pair (real processes, real TCP)', function () {
  this.timeout(180_000);
  afterEach(() => clusters.splice(0).forEach((c) => c.destroy()));

  describe('primary and backup end with identical epoch hashes', () => {
    for (const clock of ['virtual', 'host'] as ClockMode[]) {
      for (const guest of ['spin', 'kv', 'lock', 'ticker']) {
        it(`${guest}, ${clock} clock`, async () => {
          // Under the host clock an idle guest's count grows by its idle skips only: shorter epochs.
          const epochLength = clock === 'host' ? 100_000 : TEST_EPOCH;
          const options = clusterOptions(guest, { clock, cmdline: SHORT_CMDLINE[guest], epochLength });
          const cluster = track(new Cluster(options));
          const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
          await cluster.start();
          await exercise(guest, cluster);
          if (guest === 'kv') await pollsAreBrief(cluster);
          await ended;
          await caughtUp(cluster);
          const summary = await cluster.stop();
          const [primary, backup] = Object.values(summary.epochHashes);
          assert.ok(primary.length >= 2, `${guest} crossed ${primary.length} epochs`);
          assert.deepEqual(backup, primary);
          // Each host reported every epoch once; its polled stats carry only the latest.
          for (const [id, hashes] of Object.entries(summary.epochHashes)) {
            const stats = summary.hosts[id].stats!;
            assert.equal(stats.epochCount, hashes.length, `${id} reported every epoch it reached`);
            assert.deepEqual(stats.epochs.map((e) => e.hash), hashes.slice(-RECENT_EPOCHS), `${id}'s stats carry its latest epochs`);
          }
          // So that the check above cuts a list: spin and ticker cross far more epochs than stats carry (680
          // and 149 here); kv and lock, driven by clients over wall time, cross 24-52 (fewer on a loaded machine).
          if (clock === 'host' && (guest === 'spin' || guest === 'ticker')) {
            assert.ok(primary.length > RECENT_EPOCHS, `${guest} crossed ${primary.length} epochs, more than stats carry`);
          }
          const [p, b] = Object.values(summary.hosts).map((h) => h.stats!);
          assert.equal(b.instructions, p.instructions, 'the backup replayed to the same end');
          assert.deepEqual(summary.divergences, []);
          assert.equal(summary.failovers.length, 0);
        });
      }
    }
  });

  describe(`killing the primary at random instruction counts (${KILL_TRIALS} trials)`, () => {
    const random = new SeededRandom(2026);
    for (let trial = 0; trial < KILL_TRIALS; trial++) {
      const offset = 5_000_000 + Math.floor(random.next() * 150_000_000);
      it(`trial ${trial + 1}: killed ${offset} instructions into the workload, the backup goes live and no acknowledged op is lost`, async () => {
        const cluster = track(new Cluster(clusterOptions('kv')));
        await cluster.start();
        const restored = new Promise<void>((resolve) => cluster.on('backup-attached', (_h, cloned) => cloned && resolve()));
        const history = await killDuringWorkload(cluster, offset, { seed: trial });
        await restored;
        const check = checkKvHistory(history);
        const summary = await cluster.stop();
        assert.deepEqual(check.problems, []);
        assert.ok(check.ok);
        assert.ok(history.reconnects > 0, 'the kill happened while the clients were running');
        assert.equal(summary.failovers.length, 1);
        assert.equal(summary.failovers[0].newPrimary, 'host-2');
        assert.equal(lastRole(summary, 'host-1'), 'dead');
        assert.equal(lastRole(summary, 'host-2'), 'primary');
        assert.equal(lastRole(summary, 'host-3'), 'backup', 'a new backup was cloned');
      });
    }
  });

  describe(`partitioning the channel with both hosts alive (${PARTITION_TRIALS} trials)`, () => {
    for (let trial = 0; trial < PARTITION_TRIALS; trial++) {
      it(`trial ${trial + 1}: exactly one of the two stays live`, async () => {
        const cluster = track(new Cluster(clusterOptions('kv', { restoreRedundancy: false })));
        await cluster.start();
        await partitionLeavesOneLive(cluster, trial);
      });
    }
  });

  describe('a faulty channel is detected, never applied silently', () => {
    for (const fault of ['drop', 'duplicate', 'corrupt'] as const) {
      it(`${fault}: the backup still computes the primary's epoch hashes, counts what it caught, and no op is lost`, async () => {
        const cluster = track(new Cluster(clusterOptions('kv', { detector: { timeoutMs: 3000, heartbeatMs: 20 } })));
        const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
        await cluster.start();
        cluster.command('primary', { type: 'channel-fault', kind: fault, value: 0.05, seed: 11 });
        await exercise('kv', cluster);
        await ended;
        await caughtUp(cluster);
        const summary: ClusterSummary = await cluster.stop();
        const backup = summary.hosts['host-2'].stats!;
        const caught = {
          drop: backup.gapsSeen,
          duplicate: backup.duplicatesDropped,
          corrupt: backup.corruptFrames,
        }[fault];
        assert.ok(caught > 0, `the backup noticed the ${fault} faults`);
        assert.deepEqual(summary.epochHashes['host-2'], summary.epochHashes['host-1']);
        assert.deepEqual(summary.divergences, []);
        assert.equal(summary.failovers.length, 0);
      });
    }
  });

  it('an entry lost twice, sent and resent, is asked for again: the clients finish, no failover, the same epoch hashes', async () => {
    // Entry K is surely sent while the clients run, and they can only finish once it has reached the
    // backup: of 30 operations one client runs at least 15, then 5 final reads, each sent after the
    // previous reply; a request and its reply are two entries, so that client's last reply is entry
    // 40 or later, and the Output Rule releases it only once every entry up to it is acknowledged.
    const K = 20;
    const dropK = parseFault(`drop-entry@${K}`);
    const cluster = track(new Cluster(clusterOptions('kv', { faults: [dropK, dropK] })));
    const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
    await cluster.start();
    // Without a second ask the pair stalls with the replies held: the clients give up at their deadline.
    await exercise('kv', cluster, { deadlineMs: 60_000 });
    await ended;
    await caughtUp(cluster);
    const summary = await cluster.stop();
    const [primary, backup] = ['host-1', 'host-2'].map((h) => summary.hosts[h].stats!);
    assert.equal(primary.framesDropped, 2, `entry ${K} was dropped when sent and when resent, and nothing else was`);
    // Every gap the backup saw was entry K's: the only entry missing.
    assert.ok(backup.resendRequests >= 2, `the backup asked for entry ${K} ${backup.resendRequests} time(s)`);
    assert.equal(backup.framesDropped, 0);
    assert.equal(summary.failovers.length, 0);
    assert.deepEqual(summary.divergences, []);
    assert.ok(summary.epochHashes['host-1'].length >= 2);
    assert.deepEqual(summary.epochHashes['host-2'], summary.epochHashes['host-1']);
  });

  it('a recording spans a failover: the surviving backup logged what it applied, and the file replays', async () => {
    const record = join(mkdtempSync(join(tmpdir(), 'lockstep-rec-')), 'kv.ftlog');
    const cluster = track(new Cluster(clusterOptions('kv', { record, restoreRedundancy: false })));
    const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
    await cluster.start();
    const history = await runKvWorkload({ service: cluster.service, ops: 40, seed: 5, clients: 2, onProgress: (n) => n === 12 && cluster.kill('primary') });
    assert.ok(checkKvHistory(history).ok);
    await sendLines(cluster.service, ['0 0 SHUTDOWN'], /kv bye/);
    await ended;
    const summary = await cluster.stop();
    assert.equal(summary.failovers[0]?.newPrimary, 'host-2');
    const replay = await replayLogFile(record);
    assert.equal(replay.fileError, undefined);
    assert.deepEqual(replay.epochMismatches, []);
    assert.deepEqual(replay.epochHashes, summary.epochHashes['host-2']);
    assert.match(replay.serial, /kv bye/);
    const [goLive, shutdown, ...rest] = await controlEntries(record);
    assert.deepEqual(rest, []);
    assert.equal(goLive.op, 'go-live');
    assert.equal(goLive.detail.host, 'host-2');
    assert.equal(goLive.detail.reason, summary.failovers[0].reason);
    assert.equal(goLive.seq, summary.failovers[0].lastSeq + 1, 'the first entry the new primary logged');
    assert.equal(shutdown.op, 'shutdown');
  });

  it('a recording spans two failovers: the files of the hosts that went live in turn join into one log from boot, and it replays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-rec-'));
    const record = join(dir, 'kv.ftlog');
    const cluster = track(new Cluster(clusterOptions('kv', { record })));
    const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
    let failovers = 0;
    let cloned = 0;
    cluster.on('failover', () => failovers++);
    cluster.on('backup-attached', (_host, isClone) => { if (isClone) cloned++; });
    await cluster.start();
    // host-1 dies, host-2 (the backup from boot) goes live and host-3 is cloned from it; then host-2
    // dies and host-3 goes live: the history is host-2's log up to the clone, then host-3's.
    const workload = runKvWorkload({ service: cluster.service, ops: 40, seed: 5, clients: 2, onProgress: (n) => n === 12 && cluster.kill('primary'), continueWhile: () => failovers < 2 });
    // Once host-3 has restored its checkpoint (before that it could not take over).
    await until(async () => cloned >= 1 && ((await cluster.statsOf('backup'))?.instructions ?? 0) > 0, 'a backup cloned after the first failover');
    cluster.kill('primary');
    assert.ok(checkKvHistory(await workload).ok);
    await sendLines(cluster.service, ['0 0 SHUTDOWN'], /kv bye/);
    await ended;
    const summary = await cluster.stop();
    assert.deepEqual(summary.failovers.map((f) => f.newPrimary), ['host-2', 'host-3']);
    const replay = await replayLogFile(record);
    assert.equal(replay.fileError, undefined);
    assert.deepEqual(replay.epochMismatches, []);
    assert.match(replay.serial, /kv bye/);
    const [before, after] = [summary.epochHashes['host-2'], summary.epochHashes['host-3']];
    assert.ok(after.length >= 1, 'host-3 reached epochs of its own');
    assert.deepEqual(replay.epochHashes.slice(-after.length), after, "the replay ends with host-3's epochs");
    const joinedAt = replay.epochHashes.length - after.length;
    assert.deepEqual(replay.epochHashes.slice(0, joinedAt), before.slice(0, joinedAt), "and begins with host-2's");
    assert.deepEqual(readdirSync(dir), ['kv.ftlog'], 'the hosts\' segments are removed');
    // host-3 may clone host-4 too before the end: the log's story up to host-3's go-live is fixed.
    const control = await controlEntries(record);
    const [first, second, ...more] = control.filter((c) => c.op === 'go-live');
    assert.deepEqual([first?.detail.host, second?.detail.host, more.length], ['host-2', 'host-3', 0]);
    const clone = control.find((c) => c.op === 'clone');
    assert.ok(clone && first.seq < clone.seq && clone.seq < second.seq, 'host-2 logged the clone host-3 came from, between the two go-lives');
    assert.ok(Number(clone.detail.bytes) > 0 && Number(clone.detail.chunks) >= 1, 'the clone says how big its checkpoint was');
    assert.ok(first.at <= clone.at && clone.at <= second.at, 'at the counts where they happened');
    assert.equal(control.filter((c) => c.op === 'shutdown').length, 1);
  });

  it('runs on `lockstep host --listen` agents the same way, failover and cloning included', async () => {
    const token = 'agent-test-token';
    const ports = await Promise.all([0, 1, 2].map(() => freePort()));
    const agents = ports.map((port) => spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'host', '--listen', `127.0.0.1:${port}`, '--token', token], { stdio: ['ignore', 'ignore', 'pipe'] }));
    try {
      await Promise.all(agents.map((agent) => new Promise((resolve) => agent.stderr!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve(undefined)))));
      const cluster = track(new Cluster(clusterOptions('kv', { agents: ports.map((port) => ({ host: '127.0.0.1', port })), agentToken: token })));
      await cluster.start();
      const restored = new Promise<void>((resolve) => cluster.on('backup-attached', (_h, cloned) => cloned && resolve()));
      const history = runKvWorkload({ service: cluster.service, ops: 50, seed: 9, clients: 2, onProgress: (n) => n === 15 && cluster.kill('primary') });
      const check = checkKvHistory(await history);
      await restored;
      const summary = await cluster.stop();
      assert.ok(check.ok, check.problems.join('; '));
      assert.equal(summary.failovers.length, 1);
      assert.equal(lastRole(summary, 'host-3'), 'backup');
    } finally {
      agents.forEach((agent) => agent.kill('SIGKILL'));
    }
  });

  it('an agent refuses a cluster with the wrong token', async () => {
    const port = await freePort();
    const agent = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'host', '--listen', `127.0.0.1:${port}`, '--token', 'right'], { stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      await new Promise((resolve) => agent.stderr!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve(undefined)));
      const cluster = track(new Cluster(clusterOptions('kv', { agents: [{ host: '127.0.0.1', port }], agentToken: 'wrong' })));
      await assert.rejects(cluster.start(), /host-1 exited before it was ready: the agent closed the connection before answering \(a wrong --agent-token\?\)/);
    } finally {
      agent.kill('SIGKILL');
    }
  });

  describe('a host killed before the backup attaches ends the start with its name, not a wait without end', () => {
    for (const victim of ['backup', 'primary'] as const) {
      it(`the ${victim} killed while the backup boots`, async () => {
        const cluster = track(new Cluster(clusterOptions('kv')));
        const pids = new Map<string, number>();
        cluster.on('role-change', (change) => {
          if (change.reason === 'started' && change.pid) pids.set(change.role, change.pid);
          if (change.role === 'backup' && change.reason === 'started') process.kill(pids.get(victim)!, 'SIGKILL');
        });
        const host = victim === 'primary' ? 'host-1' : 'host-2';
        await assert.rejects(cluster.start(), new RegExp(`${host} exited before it was (backup-)?attached: SIGKILL`));
      });
    }
  });

  describe('kv over the network card (UDP frames through the service)', () => {
    it('frames are net inputs and outputs in the log; the backup keeps the same epoch hashes and the recording replays', async () => {
      const record = join(mkdtempSync(join(tmpdir(), 'lockstep-rec-')), 'kv.ftlog');
      const cluster = track(new Cluster(clusterOptions('kv', { record })));
      const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
      await cluster.start();
      await exercise('kv', cluster, { transport: 'net' });
      await ended;
      await caughtUp(cluster);
      // Garbage on the service's UDP side is refused and counted, not delivered to the guest.
      const stray = createSocket('udp4');
      stray.send(Buffer.from('not a frame'), cluster.service.port, cluster.service.host, () => stray.close());
      await until(async () => (await cluster.statsOf('primary'))?.datagramsRefused === 1, 'the stray datagram to be refused');
      const summary = await cluster.stop();
      assert.equal(summary.datagramsRefused, 1);
      const [primary, backup] = Object.values(summary.epochHashes);
      assert.deepEqual(backup, primary);
      assert.deepEqual(summary.divergences, []);
      const { entries } = await readLogFile(record);
      const frames = (kind: 'input' | 'output') => entries.filter((e) => e.kind === kind && e.device === 'net').map((e) => describeEntry(e));
      // 2 clients: ARP first (asked again if the guest had not set up its card yet), then 30 ops and the
      // final reads, each one datagram there and one back.
      assert.ok(frames('input').filter((d) => d.includes(' ARP who-has 10.0.2.15 tell 10.0.2.2')).length >= 2);
      assert.ok(frames('output').filter((d) => d.includes(' ARP 10.0.2.15 is-at 02:4c:53:00:00:01')).length >= 2);
      const requests = frames('input').filter((d) => d.includes(' > 10.0.2.15:7070 '));
      const replies = frames('output').filter((d) => / UDP 10\.0\.2\.15:7070 > 10\.0\.2\.2:\d+ "\d+ \d+ (OK|VALUE|NOKEY)/.test(d));
      assert.ok(requests.length >= 30, `${requests.length} requests logged`);
      assert.equal(replies.length, requests.length, 'every request answered by one frame');
      const replay = await replayLogFile(record);
      assert.deepEqual(replay.epochMismatches, []);
      assert.deepEqual(replay.epochHashes.slice(0, primary.length), primary);
    });

    const random = new SeededRandom(7070);
    for (let trial = 0; trial < NET_KILL_TRIALS; trial++) {
      const offset = 5_000_000 + Math.floor(random.next() * 150_000_000);
      it(`kill trial ${trial + 1}: killed ${offset} instructions into a UDP workload, the backup goes live and no acknowledged op is lost`, async () => {
        const cluster = track(new Cluster(clusterOptions('kv')));
        await cluster.start();
        const history = await killDuringWorkload(cluster, offset, { seed: trial, transport: 'net', retryMs: 300 });
        const check = checkKvHistory(history);
        const summary = await cluster.stop();
        assert.deepEqual(check.problems, []);
        assert.ok(check.ok);
        // Nothing is connected over UDP: what the old primary never answered (a request, or the ARP
        // lookup when it died before the clients began) was sent again.
        assert.ok(history.resends > 0, 'the kill happened while the clients were running');
        assert.equal(summary.failovers[0]?.newPrimary, 'host-2');
        assert.equal(lastRole(summary, 'host-1'), 'dead');
      });
    }
  });

  describe('the run is finished before the cluster stops: the backup replays all it received', () => {
    // No failure is injected: a long timeout keeps a loaded machine's scheduling from faking one.
    const detector = { timeoutMs: 10_000, heartbeatMs: 50 };
    it('a finite guest (ticker) with a slowed backup: stopped at the guest\'s end, the backup ends in the same state', async () => {
      // The backup sleeps between batches, so at the primary's end it is surely behind.
      const faults = [parseFault('slow-backup@5')];
      const cluster = track(new Cluster(clusterOptions('ticker', { cmdline: SHORT_CMDLINE.ticker, faults, detector })));
      const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
      await cluster.start();
      await ended;
      const summary = await cluster.stop();
      const { primary, backup, same } = summary.end;
      assert.ok(primary && backup, JSON.stringify(summary.end));
      assert.deepEqual([primary.host, backup.host], ['host-1', 'host-2']);
      assert.equal(primary.guestEnded, true);
      assert.equal(backup.guestEnded, true);
      assert.equal(backup.at, primary.at);
      assert.equal(backup.hash, primary.hash);
      assert.equal(same, true);
      assert.ok(summary.epochHashes['host-1'].length >= 2, 'the ticker crossed epochs');
      assert.deepEqual(summary.epochHashes['host-2'], summary.epochHashes['host-1'], 'the backup reached every epoch');
      assert.match(Cluster.describeEnd(summary.end), /^the same end: host-1 \(primary\) at \d+, guest ended, state [0-9a-f]{32}; host-2/);
    });

    it('stopped mid-run (max instructions, spin): both stop at the same boundary with the same state', async () => {
      const maxInstructions = 15_000_000;
      const cluster = track(new Cluster(clusterOptions('spin', { maxInstructions, faults: [parseFault('slow-backup@5')], detector })));
      await cluster.start();
      await until(async () => ((await cluster.statsOf('primary'))?.instructions ?? 0) >= maxInstructions, 'the primary to reach its limit');
      const summary = await cluster.stop();
      const { primary, backup, same } = summary.end;
      assert.ok(primary && backup, JSON.stringify(summary.end));
      assert.ok(primary.at >= maxInstructions && !primary.guestEnded, `the primary stopped at ${primary.at}`);
      assert.deepEqual([backup.at, backup.hash, same], [primary.at, primary.hash, true]);
      assert.deepEqual(summary.epochHashes['host-2'], summary.epochHashes['host-1']);
    });
  });

  it('a log file recorded by the primary replays to the same epoch hashes', async () => {
    const record = join(mkdtempSync(join(tmpdir(), 'lockstep-rec-')), 'kv.ftlog');
    const cluster = track(new Cluster(clusterOptions('kv', { record })));
    const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
    await cluster.start();
    await exercise('kv', cluster);
    await ended;
    const summary = await cluster.stop();
    const replay = await replayLogFile(record);
    assert.equal(replay.fileError, undefined);
    assert.ok(replay.epochsMatched >= 2);
    assert.deepEqual(replay.epochMismatches, []);
    assert.deepEqual(replay.epochHashes.slice(0, summary.epochHashes['host-1'].length), summary.epochHashes['host-1']);
    assert.match(replay.serial, /kv bye/);
  });
});
