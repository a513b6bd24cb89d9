// `lockstep replay` on real log files: a recording of the kv guest written by LogWriter, cut at every frame
// boundary (each cut is a file that reads without error, so only the end entry tells it from the whole), and a BIOS
// guest recorded by a real `lockstep ft`, whose boot files the replay finds from the header and checks by hash.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeEntry, encodeFileHeader, logMetaOf, LogWriter, readLogFile, type LogEntry } from '../../../src/ft/log';
import { replayLogFile, runGuest } from '../../../src/ft/commands';
import { imagesDir, resolveSpec } from '../../../src/ft/machine';
import { shortRun, TEST_EPOCH } from '../../support/guests';
import { SEABIOS, VGABIOS, skipWithoutBios } from '../../support/bios';

interface CliResult { status: number; stdout: string; stderr: string }

function lockstep(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { maxBuffer: 16 << 20, timeout: 240_000 }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** kv's short run recorded as a log file: its inputs and its epochs, in instruction order, closed by LogWriter. */
async function recordKv(path: string): Promise<LogEntry[]> {
  const { settings, files } = resolveSpec({ guest: 'kv', epochLength: TEST_EPOCH });
  const run = await runGuest(shortRun('kv', { ...settings }));
  const timed = [
    ...run.recorded.map((entry) => ({ at: entry.at, entry })),
    ...run.epochs.map((e) => ({ at: e.at, entry: { kind: 'epoch' as const, at: e.at, epoch: e.index, hash: e.hash, pages: 8192 } })),
  ];
  const entries = timed.sort((a, b) => a.at - b.at).map(({ entry }, i) => ({ ...entry, seq: i + 1 }) as LogEntry);
  const writer = await LogWriter.create(path, { ...logMetaOf(settings, files), session: 'kv-run' });
  entries.forEach((entry) => writer.append(entry));
  await writer.close();
  return entries;
}

describe('lockstep replay: whole recordings, cut ones, and their boot files', function () {
  this.timeout(600_000);
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'lockstep-replay-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a kv recording cut at any frame boundary replays as complete: false; only the whole one is complete', async () => {
    const whole = join(dir, 'kv.ftlog');
    const entries = await recordKv(whole);
    assert.ok(entries.filter((e) => e.kind === 'input').length >= 10 && entries.some((e) => e.kind === 'epoch'));
    const full = await replayLogFile(whole);
    assert.deepEqual([full.complete, full.ended, full.epochMismatches, full.fileError], [true, 'closed', [], undefined]);
    const bytes = readFileSync(whole);
    let boundary = encodeFileHeader((await readLogFile(whole)).meta).length;
    // Every boundary after the first entry: a file with no entry at all is refused outright.
    for (const entry of entries) {
      boundary += encodeEntry(entry).length;
      const cut = join(dir, `cut-${entry.seq}.ftlog`);
      writeFileSync(cut, bytes.subarray(0, boundary));
      const replay = await replayLogFile(cut);
      assert.deepEqual(
        [replay.complete, replay.ended, replay.fileError, replay.entries, replay.epochMismatches],
        [false, undefined, undefined, entry.seq, []],
        `cut after entry #${entry.seq}`,
      );
    }
    assert.equal(boundary + encodeEntry({ kind: 'end', seq: entries.length + 1, at: entries.at(-1)!.at, how: 'closed', detail: '' }).length, bytes.length);
  });

  it('exits 1 for a file without its end entry, 0 once `lockstep join` has explained it as a killed run', async () => {
    const whole = join(dir, 'kv.ftlog');
    const bytes = readFileSync(whole);
    const { entries } = await readLogFile(whole);
    const cut = join(dir, 'killed.ftlog');
    writeFileSync(cut, bytes.subarray(0, bytes.length - encodeEntry({ kind: 'end', seq: entries.length + 1, at: entries.at(-1)!.at, how: 'closed', detail: '' }).length));
    const closed = await lockstep(['replay', whole, '--json']);
    assert.equal(closed.status, 0, closed.stderr);
    assert.equal(JSON.parse(closed.stdout).complete, true);
    const short = await lockstep(['replay', cut, '--json']);
    assert.equal(short.status, 1, short.stderr);
    assert.equal(JSON.parse(short.stdout).complete, false);
    assert.match(short.stderr, /^lockstep: the log file has no end entry: its recording may be cut short/m);
    const joined = await lockstep(['join', cut]);
    assert.equal(joined.status, 0, joined.stderr);
    assert.match(joined.stderr, /no host files of its run beside it; it ends with an end entry saying its run was killed/);
    const explained = await lockstep(['replay', cut, '--json']);
    assert.equal(explained.status, 0, explained.stderr);
    assert.deepEqual([JSON.parse(explained.stdout).complete, JSON.parse(explained.stdout).ended], [false, 'killed']);
    assert.match(explained.stderr, /its run was killed: `lockstep join` recovered what its hosts had written/);
  });

  it('`lockstep ft` on a BIOS guest records every boot file; replay finds them, and refuses a changed BIOS naming it', async function () {
    skipWithoutBios(this);
    const record = join(dir, 'bootsector.ftlog');
    const image = join(imagesDir(), 'bootsector.img');
    const ft = await lockstep(['ft', image, '--bios', SEABIOS, '--memory', '16', '--epoch', '1000000', '--record', record, '--detect-timeout', '60000', '--json']);
    assert.equal(ft.status, 0, ft.stderr);
    const { meta } = await readLogFile(record);
    assert.deepEqual(meta.bootFiles?.map((f) => [f.role, f.path, f.size]), [
      ['image', image, 512],
      ['bios', SEABIOS, readFileSync(SEABIOS).length],
      ['vga-bios', VGABIOS, readFileSync(VGABIOS).length],
    ]);
    const replay = await lockstep(['replay', record, '--json']);
    assert.equal(replay.status, 0, replay.stderr);
    const result = JSON.parse(replay.stdout);
    assert.match(result.serial, /bootsector: hello from the BIOS boot path/);
    assert.deepEqual([result.complete, result.epochMismatches, result.epochsMatched > 0], [true, [], true]);
    // One byte changed, away from the reset vector: still a BIOS ROM, but not the one recorded.
    const changed = join(dir, 'bios-changed.bin');
    copyFileSync(SEABIOS, changed);
    const rom = readFileSync(changed);
    rom[0x100] ^= 1;
    writeFileSync(changed, rom);
    const refused = await lockstep(['replay', record, '--bios', changed]);
    assert.equal(refused.status, 2, refused.stderr);
    const want = meta.bootFiles!.find((f) => f.role === 'bios')!.sha256;
    assert.match(refused.stderr, new RegExp(`^lockstep: .*${changed} \\(bios\\) is not the file this log was recorded with: sha256 [0-9a-f]{64} here, ${want} in the log`));
    assert.equal(refused.stderr.trimEnd().split('\n').length, 1, 'one line');
  });
});
