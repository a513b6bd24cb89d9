import { strict as assert } from 'node:assert';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CHECKPOINT_CHUNK } from '../../../src/ft/channel';
import { Cluster, type ClusterOptions, type DebugOp, type DebugResult, type Divergence } from '../../../src/ft/cluster';
import { replayLogFile, runGuest } from '../../../src/ft/commands';
import { DiskFile, DiskMode, loadImage } from '../../../src/ft/machine';
import { readLogFile } from '../../../src/ft/log';
import { clusterOptions, freePort, until } from '../../support/cluster';
import { diskGuest } from '../../support/rawguest';

const dir = mkdtempSync(join(tmpdir(), 'lockstep-ftdisk-'));
const ROUNDS = 60;
const guest = join(dir, 'disk.bin');
writeFileSync(guest, diskGuest(ROUNDS, 150_000));
const DISK_BYTES = 64 * 1024;
const EPOCH = 2_000_000;

function freshDisk(name: string): string {
  const bytes = Buffer.alloc(DISK_BYTES);
  bytes.write('hello-disk-12345', 512);
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** FILE after the guest ran alone, start to end (what every FT run must leave on the disk), and its length. */
async function reference(): Promise<{ bytes: Buffer; instructions: number }> {
  const path = freshDisk('reference.img');
  const file = DiskFile.open(path);
  const result = await runGuest({ image: loadImage(guest), seed: 1, epochLength: EPOCH, disk: { size: file.size, mode: 'shared', file } });
  file.close();
  assert.equal(result.end, 'exited');
  return { bytes: readFileSync(path), instructions: result.instructions };
}

async function diskCluster(
  name: string,
  record?: string,
  mode: DiskMode = 'shared',
  extra: Partial<ClusterOptions> = {},
): Promise<{ cluster: Cluster; path: string }> {
  const path = freshDisk(name);
  const file = DiskFile.open(path);
  const identity = file.identity();
  file.close();
  const cluster = new Cluster(clusterOptions(guest, {
    epochLength: EPOCH, record, disk: { ...identity, mode }, detector: { timeoutMs: 3000, heartbeatMs: 50 }, ...extra,
  }));
  clusters.push(cluster);
  return { cluster, path };
}

const clusters: Cluster[] = [];

let debugRequests = 0;

/** A debug operation on one host (as the adapter sends them), and its reply. */
function debugOn(cluster: Cluster, host: string, op: DebugOp): Promise<DebugResult | undefined> {
  const request = ++debugRequests;
  return new Promise((resolve, reject) => {
    cluster.on('report', (report) => {
      if (report.type !== 'debug-reply' || report.request !== request) return;
      if (report.error !== undefined) reject(new Error(report.error));
      else resolve(report.result);
    });
    cluster.hosts.get(host)!.link.send({ type: 'debug', request, op });
  });
}

describe('a shared disk under FT (src/ft/replication/shareddisk.ts)', function () {
  this.timeout(240_000);
  let expected: Buffer;
  let length = 0;
  before(async () => ({ bytes: expected, instructions: length } = await reference()));
  afterEach(() => clusters.splice(0).forEach((c) => c.destroy()));

  it('only the primary touches FILE; it ends as the guest alone leaves it; the backup keeps the same epoch hashes', async () => {
    const record = join(dir, 'plain.ftlog');
    const { cluster, path } = await diskCluster('plain.img', record);
    const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
    await cluster.start();
    await ended;
    await until(async () => (await cluster.statsOf('backup'))?.instructions === (await cluster.statsOf('primary'))?.instructions, 'the backup to catch up');
    // The last writes are released once the backup has acknowledged them.
    await until(async () => (await cluster.statsOf('primary'))?.disk?.writes === 2 * ROUNDS, 'every write released');
    const [primary, backup] = [(await cluster.statsOf('primary'))!, (await cluster.statsOf('backup'))!];
    const summary = await cluster.stop();
    assert.ok(readFileSync(path).equals(expected), 'FILE holds every write, in order');
    assert.equal(primary.disk!.writes, 2 * ROUNDS);
    assert.equal(primary.disk!.reads, ROUNDS);
    assert.equal(primary.disk!.held, 0);
    assert.equal(backup.disk, undefined, 'the backup never opened FILE');
    const [p, b] = Object.values(summary.epochHashes);
    assert.ok(p.length >= 5);
    assert.deepEqual(b, p);
    // The recording replays without FILE: its reads are in the log.
    renameSync(path, `${path}.away`);
    const replay = await replayLogFile(record, { image: guest });
    assert.equal(replay.epochMismatches.length, 0);
    assert.equal(replay.epochsMatched, p.length);
    const { meta } = await readLogFile(record);
    assert.equal(meta.disk?.size, DISK_BYTES);
    assert.equal(meta.disk?.mode, 'shared');
    // A disk given anyway is a mistake about the recording: one line says so.
    const given = await cli(['replay', record, guest, '--disk', `${path}.away`]).then(() => 'not refused', (e: { stderr: string }) => e.stderr);
    assert.match(given, /^lockstep: .*plain\.img\.away is given as its disk, but the log was recorded with a shared-mode disk: its reads are in the log, so the replay needs no disk file\n$/);
  });

  it('one block written on the backup\'s side alone (debugger) is named by the divergence, and FILE is not written', async () => {
    const { cluster, path } = await diskCluster('diverged.img', undefined, 'shared', { debug: { hold: true } });
    const diverged = new Promise<Divergence>((resolve) => cluster.on('divergence', (d) => { if (d.blocks) resolve(d); }));
    await cluster.start();
    // Both hosts are held at instruction 0: the write comes before the guest's first instruction.
    const block = 10; // sectors 80-87: the guest neither reads nor writes them
    await debugOn(cluster, 'host-2', { op: 'writeDisk', offset: block * 4096 + 1024, data: Buffer.alloc(512, 0x5a).toString('base64') });
    await Promise.all(['host-1', 'host-2'].map((host) => debugOn(cluster, host, { op: 'resume' })));
    const divergence = await diverged;
    assert.deepEqual(divergence.blocks, [block]);
    assert.deepEqual(divergence.pages, [], 'memory is the same on both sides');
    assert.equal(divergence.epoch, 1, 'the first epoch after the write');
    await cluster.stop({ finish: false });
    assert.ok(readFileSync(path).subarray(block * 4096, (block + 1) * 4096).every((byte) => byte === 0), 'FILE never had it');
  });

  for (const fraction of [0.05, 0.3, 0.6]) {
    it(`the primary killed ${fraction * 100}% into the run: the new primary re-issues the writes it did not see released, and FILE ends as the guest alone leaves it`, async () => {
      const offset = Math.floor(length * fraction);
      const record = join(dir, `killed-${offset}.ftlog`);
      const { cluster, path } = await diskCluster(`killed-${offset}.img`, record);
      const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
      const failover = new Promise<void>((resolve) => cluster.once('failover', () => resolve()));
      await cluster.start();
      cluster.command('primary', { type: 'kill-at', at: offset });
      await failover;
      await ended;
      // No backup is left to wait for until the new one is cloned; none is held after that either.
      await until(async () => (await cluster.statsOf('primary'))?.disk?.held === 0, 'no write held');
      const newPrimary = (await cluster.statsOf('primary'))!;
      const summary = await cluster.stop();
      assert.equal(summary.failovers.length, 1);
      assert.ok(readFileSync(path).equals(expected), 'every write is on FILE, in order');
      const { entries } = await readLogFile(record);
      const goLive = entries.find((e) => e.kind === 'control' && e.op === 'go-live');
      assert.ok(goLive, 'the new primary logged its go-live');
      assert.equal(newPrimary.id, 'host-2');
      const { reissuedWrites } = JSON.parse((goLive as { detail: string }).detail) as { reissuedWrites?: number };
      assert.equal(newPrimary.disk!.reissued, reissuedWrites ?? 0, 'the log says how many writes were re-issued');
    });
  }
});

describe('a backup replaying a disk-bound guest (src/ft/replication/backup.ts)', function () {
  this.timeout(240_000);
  afterEach(() => clusters.splice(0).forEach((c) => c.destroy()));
  // Short spins: the backup keeps up, and waits at the boundaries the primary's entries name.
  const busy = join(dir, 'busy.bin');
  writeFileSync(busy, diskGuest(ROUNDS, 20_000));

  for (const mode of ['shared', 'local'] as const) {
    it(`${mode}: never runs a slice whose end needs disk entries still on their way (a slice's writes are logged before its reads' completions)`, async () => {
      const { cluster } = await diskCluster(`busy-${mode}.img`, undefined, mode, { guest: busy });
      const divergences: Divergence[] = [];
      cluster.on('divergence', (d) => divergences.push(d));
      const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
      await cluster.start();
      await ended;
      await until(async () => (await cluster.statsOf('backup'))?.instructions === (await cluster.statsOf('primary'))?.instructions, 'the backup to catch up');
      const primary = (await cluster.statsOf('primary'))!;
      const summary = await cluster.stop();
      assert.deepEqual(divergences, []);
      assert.deepEqual([primary.acked, primary.outputsHeld], [primary.seq, 0], 'the backup acknowledged every entry');
      const [p, b] = Object.values(summary.epochHashes);
      assert.deepEqual(b, p);
    });
  }
});

/**
 * A local-mode recording replays from the disk as it was at the start (FILE, where its header says, or given)
 * to the same epoch hashes, and never writes it; without it, or with another disk, it is refused in one line.
 */
async function replaysWithItsDisk(record: string, path: string, epochs: number): Promise<void> {
  const original = readFileSync(path);
  const replay = await replayLogFile(record, { image: guest });
  assert.deepEqual([replay.epochMismatches, replay.epochsMatched], [[], epochs]);
  assert.ok(readFileSync(path).equals(original), 'the replay wrote nothing on FILE');
  const moved = `${path}.moved`;
  renameSync(path, moved);
  await assert.rejects(replayLogFile(record, { image: guest }), /^ReplayError: the log was recorded with a local-mode disk, .*, which is not here: .* give it with --disk FILE$/);
  assert.equal((await replayLogFile(record, { image: guest, disk: moved })).epochMismatches.length, 0, 'the disk given instead');
  await assert.rejects(replayLogFile(record, { image: guest, disk: `${path}.host-1` }), /^ReplayError: .*host-1 is not the disk this log's run started with: sha256 [0-9a-f]{64} here, [0-9a-f]{64} in the log/);
  // The command line: --disk, and a refusal in one line.
  const { stderr } = await cli(['replay', record, guest, '--disk', moved]);
  assert.match(stderr, new RegExp(`${epochs} epoch hashes match, 0 differ`));
  const refused = await cli(['replay', record, guest, '--disk', `${path}.host-1`]).then(() => undefined, (e: { stderr: string }) => e);
  assert.match(refused?.stderr ?? 'not refused', /^lockstep: .*host-1 is not the disk this log's run started with: sha256 /);
  assert.equal(refused!.stderr.trim().split('\n').length, 1, refused!.stderr);
  renameSync(moved, path);
}

const cli = (args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args]);

describe('local disks under FT (src/ft/replication/localdisk.ts)', function () {
  this.timeout(240_000);
  let expected: Buffer;
  let length = 0;
  before(async () => ({ bytes: expected, instructions: length } = await reference()));
  afterEach(() => clusters.splice(0).forEach((c) => c.destroy()));

  it('each host makes every write on its own copy, FILE.host-N; FILE stays as it was; the log has no disk data', async () => {
    const record = join(dir, 'local.ftlog');
    const { cluster, path } = await diskCluster('local.img', record, 'local');
    const original = readFileSync(path);
    const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
    await cluster.start();
    await ended;
    await until(async () => (await cluster.statsOf('backup'))?.instructions === (await cluster.statsOf('primary'))?.instructions, 'the backup to catch up');
    const [primary, backup] = [(await cluster.statsOf('primary'))!, (await cluster.statsOf('backup'))!];
    const summary = await cluster.stop();
    assert.ok(readFileSync(`${path}.host-1`).equals(expected), 'the primary\'s copy holds every write, in order');
    assert.ok(readFileSync(`${path}.host-2`).equals(expected), 'so does the backup\'s, which it wrote replaying');
    assert.ok(readFileSync(path).equals(original), 'FILE itself is never written');
    for (const stats of [primary, backup]) {
      assert.deepEqual([stats.disk!.reads, stats.disk!.writes, stats.disk!.held], [ROUNDS, 2 * ROUNDS, 0]);
    }
    assert.ok(primary.disk!.syncs > 0, 'the primary makes its writes durable as it goes');
    assert.equal(backup.disk!.syncs, 0, 'the backup makes none durable until it goes live');
    const [p, b] = Object.values(summary.epochHashes);
    assert.ok(p.length >= 5);
    assert.deepEqual(b, p);
    const { entries } = await readLogFile(record);
    const disk = entries.filter((e) => (e.kind === 'input' || e.kind === 'output') && e.device === 'disk');
    assert.equal(disk.length, ROUNDS, 'one entry per read, none per write');
    assert.ok(disk.every((e) => e.kind === 'input' && e.data.length === 8), 'a read\'s completion only, no data');
    await replaysWithItsDisk(record, path, p.length);
  });

  for (const fraction of [0.1, 0.5]) {
    it(`the primary killed ${fraction * 100}% into the run: the new primary's copy ends as the guest alone leaves it; a clone gets it with its checkpoint`, async () => {
      const offset = Math.floor(length * fraction);
      const record = join(dir, `local-killed-${offset}.ftlog`);
      const { cluster, path } = await diskCluster(`local-killed-${offset}.img`, record, 'local');
      const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
      const failover = new Promise<void>((resolve) => cluster.once('failover', () => resolve()));
      const cloned = new Promise<void>((resolve) => cluster.on('backup-attached', (_host, clone) => clone && resolve()));
      await cluster.start();
      cluster.command('primary', { type: 'kill-at', at: offset });
      await failover;
      await cloned;
      await ended;
      await until(async () => (await cluster.statsOf('backup'))?.instructions === (await cluster.statsOf('primary'))?.instructions, 'the clone to catch up');
      const [primary, clone] = [(await cluster.statsOf('primary'))!, (await cluster.statsOf('backup'))!];
      const summary = await cluster.stop();
      assert.equal(summary.failovers.length, 1);
      assert.deepEqual([primary.id, clone.id], ['host-2', 'host-3']);
      assert.ok(readFileSync(`${path}.host-2`).equals(expected), 'the live primary\'s copy holds every write, in order');
      assert.ok(readFileSync(`${path}.host-3`).equals(expected), 'the clone\'s copy too: the primary\'s at the clone, then its own writes');
      assert.equal(primary.disk!.bytesCloned, DISK_BYTES, 'the primary sent its whole copy once');
      assert.equal(primary.disk!.reissued, 0, 'nothing to re-issue: the backup made every write it replayed');
      const { entries } = await readLogFile(record);
      const cloneEntry = entries.find((e) => e.kind === 'control' && e.op === 'clone');
      type CloneDetail = { bytes: number; chunks: number; diskBytes: number };
      const detail = JSON.parse((cloneEntry as { detail: string }).detail) as CloneDetail;
      assert.equal(detail.diskBytes, DISK_BYTES, 'the log says the clone carried the disk');
      assert.equal(detail.chunks, Math.ceil(detail.bytes / CHECKPOINT_CHUNK));
    });
  }
});

describe('disks with the hosts on `lockstep host --listen` agents', function () {
  this.timeout(240_000);
  let expected: Buffer;
  let length = 0;
  let agents: ChildProcess[] = [];
  before(async () => ({ bytes: expected, instructions: length } = await reference()));
  afterEach(() => {
    clusters.splice(0).forEach((c) => c.destroy());
    agents.splice(0).forEach((agent) => agent.kill('SIGKILL'));
  });

  /** Three agents (a primary, a backup, the clone after the failover), listening. */
  async function startAgents(token: string): Promise<{ host: string; port: number }[]> {
    const ports = await Promise.all([0, 1, 2].map(() => freePort()));
    agents = ports.map((port) => spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'host', '--listen', `127.0.0.1:${port}`, '--token', token], { stdio: ['ignore', 'ignore', 'pipe'] }));
    await Promise.all(agents.map((agent) => new Promise((resolve) => agent.stderr!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve(undefined)))));
    return ports.map((port) => ({ host: '127.0.0.1', port }));
  }

  for (const mode of ['shared', 'local'] as const) {
    it(`${mode}: the primary's agent killed during the writes: every write is on the disk the live primary uses`, async () => {
      const token = `disk-agent-${mode}`;
      const { cluster, path } = await diskCluster(`agents-${mode}.img`, undefined, mode, { agents: await startAgents(token), agentToken: token });
      const ended = new Promise<void>((resolve) => cluster.once('guest-ended', () => resolve()));
      const failover = new Promise<void>((resolve) => cluster.once('failover', () => resolve()));
      const cloned = new Promise<void>((resolve) => cluster.on('backup-attached', (_host, clone) => clone && resolve()));
      await cluster.start();
      // The agent serves its host in its own process: the host killing itself kills the agent.
      cluster.command('primary', { type: 'kill-at', at: Math.floor(length * 0.4) });
      await failover;
      await cloned;
      await ended;
      await until(async () => (await cluster.statsOf('primary'))?.disk?.held === 0, 'no write held');
      const primary = (await cluster.statsOf('primary'))!;
      const summary = await cluster.stop();
      assert.equal(summary.failovers.length, 1);
      assert.equal(primary.id, 'host-2');
      assert.equal(agents[0].exitCode ?? agents[0].signalCode, 'SIGKILL', 'the first primary\'s agent died');
      const live = mode === 'shared' ? path : `${path}.host-2`;
      assert.ok(readFileSync(live).equals(expected), `every write is on ${live}, in order`);
    });
  }
});
