import { strict as assert } from 'node:assert';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkKvHistory, runKvWorkload } from '../../../src/ft/workload';
import { Cluster } from '../../../src/ft/cluster';
import {
  encodeEntry,
  LogWriter,
  readLogFile,
  RecordingError,
  recoverRecording,
  segmentFile,
  unjoinedSegments,
  type LogEntry,
  type LogMeta,
} from '../../../src/ft/log';
import { replayLogFile } from '../../../src/ft/commands';
import { clusterOptions, until } from '../../support/cluster';

/** Metadata for files that are only a header (no entries: nothing here replays them). */
const HEADER_ONLY: LogMeta = { guest: 'kv', imageSha256: '0'.repeat(64), memorySize: 1 << 24, clock: 'virtual', jit: true, epochLength: 1000, cmdline: '', createdAt: new Date(0).toISOString() };

/** A host file of run-1 with serial inputs 1..count, the last one replaced by `last` if given. */
async function writeEntries(path: string, count: number, last?: LogEntry): Promise<void> {
  const writer = await LogWriter.create(path, { ...HEADER_ONLY, session: 'run-1' });
  for (let seq = 1; seq <= count; seq++) writer.append(seq === count && last ? last : { kind: 'input', seq, at: seq * 1000, device: 'serial', data: Buffer.from(`line ${seq}\n`) });
  await writer.close();
}

describe('recovering a recording whose `lockstep ft` never joined it (real processes)', function () {
  this.timeout(120_000);
  let cluster: Cluster | undefined;
  afterEach(() => cluster?.destroy());

  it('joins the first primary\'s file with the segment of the host that went live; leaves other runs\' files alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-recover-'));
    const record = join(dir, 'kv.ftlog');
    cluster = new Cluster(clusterOptions('kv', { record }));
    let cloned = false;
    cluster.on('backup-attached', (_host, isClone) => { if (isClone) cloned = true; });
    await cluster.start();
    const history = await runKvWorkload({ service: cluster.service, ops: 40, seed: 7, clients: 2, onProgress: (n) => n === 12 && cluster!.kill('primary') });
    assert.ok(checkKvHistory(history).ok);
    // Once host-3 has restored its checkpoint and created its file (with its header).
    await until(async () => cloned && ((await cluster!.statsOf('backup'))?.instructions ?? 0) > 0, 'a backup cloned from the new primary');
    await until(() => readLogFile(segmentFile(record, 'host-3')).then(() => true, () => false), "host-3's file");
    // The supervisor dies: every host is killed where it stands, and nothing joins their files.
    const summary = cluster.summary();
    const hosts = [cluster.hostIn('primary'), cluster.hostIn('backup')];
    cluster.destroy();
    await Promise.all(hosts.map((host) => host?.exited));
    assert.equal(summary.failovers[0]?.newPrimary, 'host-2');
    // A file of another run with the same name, left from before: it must not be taken.
    const stranger = segmentFile(record, 'host-9');
    const { meta } = await readLogFile(record);
    const other = await LogWriter.create(stranger, { ...meta, session: 'another-run' });
    other.append({ kind: 'control', seq: 1, at: 0, op: 'go-live', detail: '{}' });
    await other.close();
    // And an empty one, as a host killed while creating its file leaves: whose it is cannot be told.
    const empty = segmentFile(record, 'host-7');
    writeFileSync(empty, '');
    assert.deepEqual(readdirSync(dir).sort(), ['kv.ftlog', 'kv.ftlog.host-2', 'kv.ftlog.host-3', 'kv.ftlog.host-7', 'kv.ftlog.host-9']);

    assert.deepEqual(await unjoinedSegments(record), [segmentFile(record, 'host-2'), segmentFile(record, 'host-3')], 'what `lockstep replay` warns about');
    const recovered = await recoverRecording(record);
    assert.deepEqual(recovered.joined, [record, segmentFile(record, 'host-2')], 'host-2 went live; host-3 never did');
    assert.deepEqual(recovered.removed, [segmentFile(record, 'host-2'), segmentFile(record, 'host-3')]);
    assert.deepEqual(recovered.unreadable.map((u) => u.path), [empty]);
    assert.match(recovered.unreadable[0].reason, /bad file header/);
    assert.deepEqual(readdirSync(dir).sort(), ['kv.ftlog', 'kv.ftlog.host-7', 'kv.ftlog.host-9']);
    assert.deepEqual(await unjoinedSegments(record), []);

    // What the hosts had written when they died replays, and matches what host-2 computed live.
    const replay = await replayLogFile(record);
    assert.deepEqual(replay.epochMismatches, []);
    // Its end entry says the run was killed: the replay knows why it stops where it does.
    assert.deepEqual([recovered.ended, replay.ended, replay.complete], ['killed', 'killed', false]);
    // Both are prefixes of host-2's epochs: what its file had, and what it had reported, when killed.
    const live = summary.epochHashes['host-2'];
    const common = Math.min(replay.epochHashes.length, live.length);
    assert.ok(common >= 1, 'the recording reaches an epoch');
    assert.deepEqual(replay.epochHashes.slice(0, common), live.slice(0, common));
    const { entries } = await readLogFile(record);
    assert.ok(entries.some((e) => e.kind === 'control' && e.op === 'go-live'), 'the joined log says where host-2 went live');
    assert.ok(existsSync(stranger));
  });

  it("a new run does not record over an earlier run's recording that was never joined", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-recover-'));
    const file = join(dir, 'kv.ftlog');
    const meta = { ...HEADER_ONLY, session: 'earlier' };
    for (const path of [file, segmentFile(file, 'host-2')]) await (await LogWriter.create(path, meta)).close();
    const before = readFileSync(file);
    cluster = new Cluster(clusterOptions('kv', { record: file }));
    await assert.rejects(cluster.start(), (e: unknown) => e instanceof RecordingError && /kv\.ftlog is the recording of an earlier run that was never joined \(kv\.ftlog\.host-2 lie beside it\): `lockstep join .*kv\.ftlog` first/.test(e.message));
    assert.deepEqual(readFileSync(file), before, 'the earlier recording is untouched');
    assert.deepEqual(readdirSync(dir).sort(), ['kv.ftlog', 'kv.ftlog.host-2']);
  });

  it('a new run records over no file that is not a log, nor over host files whose recording is gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-recover-'));
    const image = join(dir, 'spin.elf');
    writeFileSync(image, readFileSync(join(__dirname, '..', '..', '..', 'guests', 'images', 'spin.elf')));
    const before = readFileSync(image);
    cluster = new Cluster(clusterOptions('spin', { record: image }));
    await assert.rejects(cluster.start(), (e: unknown) => e instanceof RecordingError && /spin\.elf exists and is not a Lockstep log \(.*\): refusing to record over it/.test(e.message));
    assert.deepEqual(readFileSync(image), before, 'the image is untouched');
    const gone = join(dir, 'gone.ftlog');
    await (await LogWriter.create(segmentFile(gone, 'host-2'), { ...HEADER_ONLY, session: 'earlier' })).close();
    cluster = new Cluster(clusterOptions('kv', { record: gone }));
    await assert.rejects(cluster.start(), (e: unknown) => e instanceof RecordingError && /gone\.ftlog\.host-2 of an earlier run lie where .*gone\.ftlog's hosts would write/.test(e.message));
    assert.deepEqual(readdirSync(dir).sort(), ['gone.ftlog.host-2', 'spin.elf']);
  });

  it("join ends with the last primary's backup when it holds entries that primary died before writing; names damage", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-recover-'));
    const file = join(dir, 'run.ftlog');
    await writeEntries(file, 2); // the primary died before writing entries 3 and 4
    const backup = segmentFile(file, 'host-2');
    await writeEntries(backup, 4); // its backup had received them, and never went live
    const damaged = segmentFile(file, 'host-3');
    await writeEntries(damaged, 2);
    const bytes = readFileSync(damaged);
    bytes[bytes.length - 2] ^= 0xff; // entry 2's checksum
    writeFileSync(damaged, bytes);
    const result = await recoverRecording(file);
    assert.deepEqual(result.joined, [file, backup]);
    assert.deepEqual(result.removed, [backup, damaged]);
    assert.deepEqual(result.kept, []);
    assert.deepEqual(result.damaged.map((d) => d.path), [damaged]);
    assert.deepEqual((await readLogFile(file)).entries.map((e) => e.seq), [1, 2, 3, 4]);
    assert.deepEqual(readdirSync(dir), ['run.ftlog']);
  });

  it('join keeps a host file holding entries the joined recording lacks, when it cannot follow the chain', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-recover-'));
    const file = join(dir, 'run.ftlog');
    await writeEntries(file, 2);
    const early = segmentFile(file, 'host-2');
    await writeEntries(early, 5); // a host before the last live one: not the last primary's backup
    const live = segmentFile(file, 'host-3');
    await writeEntries(live, 3, { kind: 'control', seq: 3, at: 3000, op: 'go-live', detail: '{}' });
    const result = await recoverRecording(file);
    assert.deepEqual(result.joined, [file, live]);
    assert.deepEqual(result.kept.map((k) => k.path), [early]);
    assert.match(result.kept[0].reason, /holds entries up to #5, the joined recording ends at #3/);
    assert.deepEqual(readdirSync(dir).sort(), ['run.ftlog', 'run.ftlog.host-2']);
  });

  it('says so when there is nothing to join, and refuses a file that names no run', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-recover-'));
    const file = join(dir, 'alone.ftlog');
    const meta = HEADER_ONLY;
    const writer = await LogWriter.create(file, { ...meta, session: 'run-1' });
    await writer.close();
    const before = readFileSync(file);
    assert.deepEqual(await recoverRecording(file), {
      joined: [file],
      removed: [],
      kept: [],
      unreadable: [],
      damaged: [],
      ended: 'closed',
    });
    assert.deepEqual(readFileSync(file), before, 'a file closed cleanly is left as it is');
    const old = join(dir, 'old.ftlog');
    await (await LogWriter.create(old, meta)).close();
    await assert.rejects(recoverRecording(old), (e: unknown) => e instanceof RecordingError && /no session id/.test(e.message));
  });

  it('ends a lone file whose writer never closed it (a killed run) with an end entry saying so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-recover-'));
    const file = join(dir, 'cut.ftlog');
    await writeEntries(file, 3);
    const whole = readFileSync(file);
    const cut = whole.subarray(0, whole.length - encodeEntry({ kind: 'end', seq: 4, at: 3000, how: 'closed', detail: '' }).length);
    // and a partial frame, as a killed writer leaves
    writeFileSync(file, Buffer.concat([cut, Buffer.from([0xf7, 0x4c, 1])]));
    assert.equal((await readLogFile(file)).end, undefined);
    const result = await recoverRecording(file);
    assert.deepEqual([result.joined, result.ended, result.damaged], [[file], 'killed', []]);
    const read = await readLogFile(file);
    assert.deepEqual(read.entries.map((e) => e.seq), [1, 2, 3]);
    assert.deepEqual([read.end?.how, read.end?.seq, read.end?.detail, read.error], ['killed', 4, 'lockstep join: cut.ftlog', undefined]);
  });
});
