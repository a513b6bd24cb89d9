// The text view of *.ftlog files (src/extension/ftlogText.ts): real files written by LogWriter, then
// damaged the ways files get damaged (cut short, a flipped byte, not a log at all).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeEntry, encodeEntry, encodeFileHeader, type LogEntry, type LogMeta, LogWriter } from '../../src/ft/log';
import { entryLineInstruction, renderLogFile } from '../../src/extension/ftlogText';
import { FILE_ENTRIES, META, writeLog } from './samples';

/** File offset where each entry's frame starts. */
function frameOffsets(entries: LogEntry[]): number[] {
  let offset = encodeFileHeader(META).length;
  return entries.map((e) => {
    const start = offset;
    offset += encodeEntry(e).length;
    return start;
  });
}

const entryLines = (text: string) => text.split('\n').filter((l) => entryLineInstruction(l));

describe('ftlog text view', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'lockstep-ftlog-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('renders one line per entry with describeEntry, after a header of // lines', async () => {
    const rendered = await renderLogFile(await writeLog(dir), 'sample.ftlog');
    const lines = rendered.text.trimEnd().split('\n');
    const shown: LogEntry[] = [...FILE_ENTRIES, { kind: 'end', seq: 13, at: FILE_ENTRIES[11].at, how: 'closed', detail: '' }];
    const header = lines.slice(0, lines.length - shown.length);
    assert.ok(header.every((l) => l.startsWith('// ')), header.join('\n'));
    assert.match(header[0], /Lockstep log sample\.ftlog/);
    assert.match(header.join('\n'), /guest kv, 32 MiB, clock virtual, JIT on, epochs every 100,000,000 executed instructions \(or 1,000,000,000 of count when the guest idles\)/);
    assert.ok(header.includes('// 12 entries (3 control, 4 input, 3 nondet, 1 epoch, 1 output), up to instruction 9007199254740991'), header.join('\n'));
    assert.equal(rendered.entries, 12);
    assert.equal(rendered.error, undefined);
    assert.ok(header.includes('// closed cleanly: the end entry is its last'), header.join('\n'));
    const body = lines.slice(header.length);
    assert.equal(body.length, shown.length);
    assert.equal(body.at(-1), `#13 @${FILE_ENTRIES[11].at} end closed ""`);
    // Payloads are cut at 48 bytes, the rest as describeEntry renders it.
    shown.forEach((e, i) => assert.equal(body[i], describeEntry(e, { maxBytes: 48 })));
    assert.ok(body.every((l) => !l.includes('\n')));
  });

  it('says where a file stands in its recording: a segment, or host files of its run not joined yet', async () => {
    const write = async (name: string, meta: LogMeta, entries: LogEntry[]) => {
      const writer = await LogWriter.create(join(dir, name), meta);
      entries.forEach((e) => writer.append(e));
      await writer.close();
      return join(dir, name);
    };
    const run = { ...META, session: 'run-1' };
    const whole = await write('kv.ftlog', run, FILE_ENTRIES);
    const header = async (path: string, name: string) => (await renderLogFile(path, name)).text.split('\n').filter((l) => l.startsWith('//')).join('\n');
    assert.doesNotMatch(await header(whole, 'kv.ftlog'), /segment|not the whole recording/);
    const segment = await write('kv.ftlog.host-3', { ...run, firstSeq: 7 }, FILE_ENTRIES.slice(6).map((e, i) => ({ ...e, seq: 7 + i }) as LogEntry));
    await write('kv.ftlog.host-4', { ...META, session: 'another-run' }, []);
    assert.match(await header(whole, 'kv.ftlog'), /\/\/ not the whole recording yet: kv\.ftlog\.host-3 of the same run lie beside it; `lockstep join kv\.ftlog` joins them/);
    assert.match(await header(segment, 'kv.ftlog.host-3'), /\/\/ a segment: a backup cloned from a checkpoint wrote it from entry #7 on/);
  });

  it('finds the seq and instruction count of entry lines only', () => {
    assert.deepEqual(entryLineInstruction('#2 @1234567 input serial 5 "PUT a"'), { seq: 2, at: 1234567 });
    assert.equal(entryLineInstruction('// 12 entries'), undefined);
    assert.equal(entryLineInstruction('// ERROR at byte 5: bad'), undefined);
  });

  it('a truncated file shows every whole entry and the offset where the cut frame starts', async () => {
    const path = await writeLog(dir);
    const offsets = frameOffsets(FILE_ENTRIES);
    const last = offsets.at(-1)!;
    truncateSync(path, last + 10);
    const rendered = await renderLogFile(path, 'sample.ftlog');
    assert.equal(rendered.entries, 11);
    assert.equal(rendered.error?.offset, last);
    assert.equal(rendered.error?.code, 'truncated');
    const lines = rendered.text.trimEnd().split('\n');
    const message = `// ERROR at byte ${last}: truncated frame; the 11 entries before it are shown, nothing after it`;
    assert.equal(lines[rendered.errorLine!], message);
    assert.ok(lines.slice(0, 6).includes(message), 'the damage is said at the top too');
    assert.deepEqual(
      entryLines(rendered.text),
      FILE_ENTRIES.slice(0, 11).map((e) => describeEntry(e, { maxBytes: 48 })),
    );
  });

  it('a corrupted byte stops at the damaged frame', async () => {
    const path = await writeLog(dir);
    const offsets = frameOffsets(FILE_ENTRIES);
    const bytes = readFileSync(path);
    bytes[offsets[5] + 27] ^= 0xff; // inside entry 6's payload: its CRC no longer matches
    writeFileSync(path, bytes);
    const rendered = await renderLogFile(path);
    assert.equal(rendered.entries, 5);
    assert.deepEqual(rendered.error && { offset: rendered.error.offset, code: rendered.error.code }, { offset: offsets[5], code: 'checksum-mismatch' });
    assert.match(rendered.text, new RegExp(`// ERROR at byte ${offsets[5]}: checksum mismatch; the 5 entries before it are shown`));
    assert.equal(entryLines(rendered.text).length, 5);
  });

  it('a file that is not a log says so at byte 0 and shows nothing', async () => {
    const path = join(dir, 'notes.ftlog');
    writeFileSync(path, 'hello, this is a text file and not a log');
    const rendered = await renderLogFile(path);
    assert.equal(rendered.entries, 0);
    assert.equal(rendered.error?.offset, 0);
    assert.match(rendered.text, /\/\/ ERROR at byte 0: bad file header: not a Lockstep log \(bad magic\); no entry could be read/);
    assert.equal(entryLines(rendered.text).length, 0);
    assert.equal(rendered.text.split('\n').filter((l) => l.includes('ERROR')).length, 1);
  });

  it('an empty log renders its header and no entries', async () => {
    const rendered = await renderLogFile(await writeLog(dir, []));
    assert.equal(rendered.entries, 0);
    assert.match(rendered.text, /\/\/ 0 entries\n/);
    assert.deepEqual(entryLines(rendered.text), ['#1 @0 end closed ""']);
  });

  it('says when a file has no end entry: its recording may be cut short', async () => {
    const path = await writeLog(dir);
    truncateSync(path, frameOffsets(FILE_ENTRIES).at(-1)!);
    const rendered = await renderLogFile(path, 'sample.ftlog');
    assert.deepEqual([rendered.entries, rendered.error], [11, undefined]);
    assert.match(rendered.text, /\n\/\/ no end entry: the recording may be cut short/);
  });
});
