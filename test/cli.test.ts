// The `lockstep run` command line, run as a real child process: what it prints for each built-in
// guest, the --json summary, and the one-line errors (exit status 2) for bad input.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { AddressInfo, createServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeEntry, encodeFileHeader, LogWriter } from '../src/ft/log';
import { STARTUP_PHASES, type StartupTimes } from '../src/ft/machine';
import { SEABIOS, VGABIOS, skipWithoutBios } from './support/bios';
import { spinChecksum } from './support/guests';

interface CliResult { status: number; stdout: string; stderr: string }

function lockstep(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { maxBuffer: 16 << 20, timeout: 60_000 }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ status, stdout, stderr });
    });
  });
}

/** Runs and expects success with nothing on stderr. */
async function ok(args: string[]): Promise<string> {
  const result = await lockstep(args);
  assert.equal(result.status, 0, `lockstep ${args.join(' ')} failed: ${result.stderr}`);
  assert.equal(result.stderr, '', 'nothing on stderr');
  return result.stdout;
}

const HEX32 = /^[0-9a-f]{32}$/;

/** Every start-up phase reported, in the order a run passes them, on the clock that starts with the process. */
function assertStartupPhases(startup: StartupTimes): void {
  assert.ok(Math.abs(startup.timeOrigin - Date.now()) < 3_600_000, `timeOrigin ${startup.timeOrigin} is a time of today`);
  for (const [clock, marks] of [['wall', startup.phases], ['cpu', startup.cpuMs]] as const) {
    let previous = 0;
    for (const phase of STARTUP_PHASES) {
      const end = marks[phase];
      assert.ok(typeof end === 'number' && Number.isFinite(end), `start-up phase ${phase} (${clock}): ${end}`);
      assert.ok(end >= previous, `${phase} ended at ${end} ms (${clock}), before the phase before it (${previous} ms)`);
      previous = end;
    }
  }
}

describe('lockstep run (CLI)', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'lockstep-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string | Uint8Array) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  /** An empty recording and a host file of the same run beside it, as a killed `lockstep ft` leaves them. */
  const earlierMeta = { guest: 'kv', imageSha256: '0'.repeat(64), memorySize: 1 << 25, clock: 'virtual' as const, jit: true, jitKept: true, epochLength: 1000, cmdline: '', createdAt: new Date(0).toISOString() };
  const earlierRun = () => {
    const header = encodeFileHeader({ ...earlierMeta, session: 'earlier' });
    file('earlier.ftlog.host-2', header);
    return file('earlier.ftlog', header);
  };

  describe('prints what each built-in guest prints', () => {
    it('spin', async () => {
      assert.equal(await ok(['run', 'spin', '--cmdline', 'iterations=100000']), `spin checksum=${spinChecksum(100_000)} iterations=100000\n`);
    });

    it('kv, with the demo script (plain input)', async () => {
      assert.equal(
        await ok(['run', 'kv', '--input', 'guests/scripts/kv-demo.txt']),
        ['kv ready', '1 1 OK', '2 1 OK', '1 2 OK', '2 2 VALUE hello,world', '1 3 VALUE 42', '1 3 VALUE 42', '3 1 NOKEY', 'kv bye', ''].join('\n'),
      );
    });

    it('lock, with timed input: a lease expires in guest time', async () => {
      // hz=100: ticks every ~10 ms = 10 M instructions; each line lands mid-tick. Granted in tick 2,
      // a 25 ms lease lasts ceil(2.5) = 3 ticks: it expires at tick 5. Client 8's 10 ms lease, granted
      // in tick 6, expires at tick 7.
      const input = file('lock.txt', '@25000000 7 1 ACQUIRE door 25\n@45000000 8 1 ACQUIRE door 10\n\n@65000000 8 2 ACQUIRE door 10\n@85000000 0 0 SHUTDOWN\n');
      assert.equal(
        await ok(['run', 'lock', '--cmdline', 'hz=100', '--input', input]),
        ['lock ready hz=100', '7 1 GRANTED door', '8 1 BUSY door 7', 'EXPIRED door 7 tick=5', '8 2 GRANTED door', 'EXPIRED door 8 tick=7', 'lock bye', ''].join('\n'),
      );
    });

    it('ticker', async () => {
      const out = await ok(['run', 'ticker', '--cmdline', 'hz=1000 ticks=100 every=50']);
      assert.match(out, /^ticker tick=50 hash=[0-9a-f]{8}\nticker tick=100 hash=([0-9a-f]{8})\nticker done hash=\1\n$/);
    });

    it('ticker at --clock-rate 500 (instructions a µs): its 100 ms of ticks take about half the instructions', async () => {
      const ticks = ['run', 'ticker', '--cmdline', 'hz=1000 ticks=100 every=50', '--json'];
      const nominal = JSON.parse(await ok(ticks)).instructions;
      const half = JSON.parse(await ok([...ticks, '--clock-rate', '500'])).instructions;
      assert.ok(half > 0.4 * nominal && half < 0.6 * nominal, `${half} instructions at 500 a µs, ${nominal} at 1000`);
    });

    it('stops at --max-instructions and says so on stderr', async () => {
      const result = await lockstep(['run', 'kv', '--max-instructions', '2000000']);
      assert.equal(result.status, 0);
      assert.equal(result.stdout, 'kv ready\n');
      assert.match(result.stderr, /^lockstep: stopped at the instruction limit \(\d+\)\n$/);
    });
  });

  describe('--json', () => {
    it('prints one line with the fields present and sane, the same on a second run', async () => {
      const args = ['run', 'spin', '--cmdline', 'iterations=1000000', '--epoch', '1000000', '--json'];
      const [first, second, plain] = await Promise.all([ok(args), ok(args), ok(args.slice(0, -1))]);
      assert.equal(first.split('\n').length, 2, 'one line');
      const a = JSON.parse(first);
      const b = JSON.parse(second);
      assert.equal(a.end, 'halted');
      assert.ok(Number.isSafeInteger(a.instructions) && a.instructions > 10_000_000, `instructions ${a.instructions}`);
      assert.match(a.stateHash, HEX32);
      assert.ok(Array.isArray(a.epochHashes) && a.epochHashes.length >= 10, `${a.epochHashes.length} epochs`);
      assert.ok(a.epochHashes.length <= Math.floor(a.instructions / 1_000_000), 'no more epochs than epoch lengths run');
      a.epochHashes.forEach((hash: string) => assert.match(hash, HEX32));
      assert.equal(new Set(a.epochHashes).size, a.epochHashes.length, 'the state moves between epochs');
      assert.equal(a.serial, plain, 'serial is what the run prints without --json');
      assert.ok(typeof a.wallMs === 'number' && a.wallMs > 0 && Number.isFinite(a.wallMs), `wallMs ${a.wallMs}`);
      assert.ok(typeof a.mips === 'number' && a.mips > 0 && Number.isFinite(a.mips), `mips ${a.mips}`);
      assertStartupPhases(a.startup);
      for (const field of ['instructions', 'end', 'stateHash', 'epochHashes', 'serial']) assert.deepEqual(b[field], a[field], `${field} differs between two runs`);
    });

    it('reports the end at the instruction limit and the inputs delivered', async () => {
      const input = file('kv.txt', '1 1 PUT a b\n1 2 GET a\n');
      const summary = JSON.parse(await ok(['run', 'kv', '--input', input, '--max-instructions', '30000000', '--json']));
      assert.equal(summary.end, 'limit');
      assert.ok(summary.instructions >= 30_000_000, `instructions ${summary.instructions}`);
      assert.equal(summary.serial, 'kv ready\n1 1 OK\n1 2 VALUE b\n');
      assert.equal(summary.inputs, 2);
    });
  });

  it('--help after any command prints the usage and exits 0; after -- it is a positional', async () => {
    for (const args of [['--help'], ['ft', '--help'], ['replay', 'x.ftlog', '-h']]) assert.match(await ok(args), /^usage: lockstep <command>/);
    const positional = await lockstep(['run', '--', '--help']);
    assert.equal(positional.status, 2);
    assert.match(positional.stderr, /--help/);
  });

  describe('bad input: one line on stderr naming the problem, exit status 2', () => {
    const cases: [string, () => string[], RegExp][] = [
      ['an unknown guest (the message lists the built-ins)', () => ['run', 'nosuch'], /unknown guest 'nosuch'.*spin, kv, lock, ticker/],
      ['a file that is not bootable', () => ['run', 'package.json'], /package\.json: not a bootable image/],
      ['an empty file', () => ['run', file('empty.img', '')], /empty\.img: not a bootable image/],
      ['a directory', () => ['run', 'guests'], /guests: is a directory/],
      ['no guest', () => ['run'], /expected one guest \(spin, kv, lock, ticker\) or image path, got 0/],
      ['two guests', () => ['run', 'spin', 'kv'], /expected one guest .* got 2/],
      ['--memory 3', () => ['run', 'spin', '--memory', '3'], /--memory: expected a whole number from 4 to 2048, got '3'/],
      ['--memory 4.5', () => ['run', 'spin', '--memory', '4.5'], /--memory: .*got '4\.5'/],
      ['--epoch 5', () => ['run', 'spin', '--epoch', '5'], /--epoch: expected a whole number from 100000 .*got '5'/],
      ['--max-instructions abc', () => ['run', 'spin', '--max-instructions', 'abc'], /--max-instructions: expected a whole number .*got 'abc'/],
      ['--max-instructions 0', () => ['run', 'spin', '--max-instructions', '0'], /--max-instructions: expected a whole number from 1 .*got '0'/],
      ['--clone-at -1', () => ['run', 'spin', '--clone-at', '-1'], /--clone-at/],
      ['--clock wall', () => ['run', 'spin', '--clock', 'wall'], /--clock: expected virtual or host, got 'wall'/],
      ['an unknown option', () => ['run', 'spin', '--bogus'], /Unknown option '--bogus'/],
      ['a missing input file', () => ['run', 'kv', '--input', join(dir, 'missing.txt')], /cannot read input file .*missing\.txt/],
      ['a malformed timed input line', () => ['run', 'kv', '--input', file('bad-timed.txt', '@1000 1 1 PUT a b\n\n@x 1 2 GET a\n')], /bad-timed\.txt:3: expected '@<instruction-count> <text>'.*"@x 1 2 GET a"/],
      ['timed input lines out of order', () => ['run', 'kv', '--input', file('order.txt', '@2000 1 1 GET a\n@1000 1 2 GET a\n')], /order\.txt:2: instruction count 1000 is before the previous line's 2000/],
      ['--snapshot-at without --snapshot-file', () => ['run', 'spin', '--snapshot-at', '1000000'], /--snapshot-at and --snapshot-file go together/],
      ['--snapshot-file without --snapshot-at', () => ['run', 'spin', '--snapshot-file', join(dir, 's.snap')], /--snapshot-at and --snapshot-file go together/],
      ['--snapshot-file in a missing directory', () => ['run', 'spin', '--snapshot-at', '1', '--snapshot-file', join(dir, 'no', 's.snap')], /--snapshot-file: cannot write .*no directory/],
      ['a corrupt snapshot file for --from-snapshot', () => ['run', 'spin', '--from-snapshot', file('corrupt.snap', 'this is not a snapshot\n')], /not a Lockstep snapshot/],
      ['a truncated snapshot header', () => ['run', 'spin', '--from-snapshot', file('short.snap', Buffer.concat([Buffer.from('LSSNAP\n\0', 'latin1'), Buffer.from([0xff, 0, 0, 0]), Buffer.from('{"form')]))], /truncated snapshot/],
      ['a missing snapshot file', () => ['run', 'spin', '--from-snapshot', join(dir, 'none.snap')], /--from-snapshot: cannot read .*none\.snap: no such file/],
      ['a disk image without --bios', () => ['run', 'guests/images/bootsector.img'], /bootsector\.img: a disk image needs a BIOS \(e\.g\. --bios/],
      ['a missing --bios file', () => ['run', 'guests/images/bootsector.img', '--bios', join(dir, 'bios.bin')], /--bios: cannot read .*bios\.bin: no such file/],
      ['--vga-bios without --bios', () => ['run', 'spin', '--vga-bios', VGABIOS], /--vga-bios needs --bios/],
      ['a --bios file that is no BIOS', () => ['run', 'guests/images/bootsector.img', '--bios', file('notes.bin', 'not a ROM\n')], /--bios: .*notes\.bin is not a BIOS ROM: 10 bytes, where a BIOS fills whole 64 KiB blocks/],
      ['a --bios file of the right size with no reset vector', () => ['run', 'guests/images/bootsector.img', '--bios', file('zeros.bin', Buffer.alloc(0x20000))], /zeros\.bin is not a BIOS ROM: no jump at its reset vector \(16 bytes from the end: 0x00\)/],
      ['ft: an unknown guest', () => ['ft', 'nosuch'], /unknown guest 'nosuch'/],
      ['ft: an unknown fault', () => ['ft', 'kv', '--fault', 'explode@1s'], /--fault explode@1s: unknown fault 'explode' \(one of kill-primary/],
      ['ft: a fault without a time', () => ['ft', 'kv', '--fault', 'kill-primary@soon'], /'soon' is not an instruction count or a time like 2s/],
      ['ft: a drop rate above 1', () => ['ft', 'kv', '--fault', 'drop@2'], /--fault drop@2: '2' is not a number from 0 to 1/],
      ['ft: a drop-entry that names no log entry', () => ['ft', 'kv', '--fault', 'drop-entry@0'], /--fault drop-entry@0: '0' is not a log entry number/],
      ['ft: a partition at an instruction count', () => ['ft', 'kv', '--fault', 'partition@1000'], /'1000' is not a time like 2s or 500ms/],
      ['ft: a malformed service address', () => ['ft', 'kv', '--service', 'nohost'], /--service: expected HOST:PORT, got 'nohost'/],
      ['ft: a detection timeout of 0', () => ['ft', 'kv', '--detect-timeout', '0'], /--detect-timeout: expected a whole number from 10/],
      ['ft: heartbeats no more often than the timeout', () => ['ft', 'kv', '--heartbeat', '500', '--detect-timeout', '500'], /--heartbeat 500 ms must be shorter than the detection timeout \(--detect-timeout, 500 ms\)/],
      ['demo: an argument', () => ['demo', 'now'], /demo takes no arguments, got 'now'/],
      ['run: a clock rate of 0', () => ['run', 'kv', '--clock-rate', '0'], /--clock-rate: expected a whole number from 1 to 100000, got '0'/],
      ['ft: --agent without a token', () => ['ft', 'kv', '--agent', '127.0.0.1:1'], /--agent needs --agent-token T/],
      ['ft: --agent-token without --agent', () => ['ft', 'kv', '--agent-token', 'x'], /--agent-token is for --agent HOST:PORT/],
      ['client: no --connect', () => ['client', 'kv'], /client: --connect HOST:PORT is required/],
      ['client: a first client id of 0', () => ['client', 'kv', '--connect', '127.0.0.1:1', '--first-client', '0'], /--first-client: expected a whole number from 1/],
      ['client: an unknown workload', () => ['client', 'bank', '--connect', '127.0.0.1:1'], /the only workload is 'kv'/],
      ['client: an unknown way to the guest', () => ['client', 'kv', '--connect', '127.0.0.1:1', '--via', 'usb'], /client: --via must be serial or net, got 'usb'/],
      ['replay: not a log file', () => ['replay', 'package.json'], /package\.json: bad file header: not a Lockstep log \(bad magic\) at byte 0/],
      ['replay: a missing log file', () => ['replay', join(dir, 'none.ftlog')], /ENOENT: no such file or directory, open '.*none\.ftlog'/],
      ['join: not a log file', () => ['join', 'package.json'], /package\.json: bad file header: not a Lockstep log/],
      ['join: two files', () => ['join', 'a.ftlog', 'b.ftlog'], /join: expected one recording, FILE\.ftlog/],
      ['ft: --record over an earlier run never joined', () => ['ft', 'kv', '--record', earlierRun()], /earlier\.ftlog is the recording of an earlier run that was never joined \(earlier\.ftlog\.host-2 lie beside it\)/],
      ['ft: --record over a file that is not a log', () => ['ft', 'spin', '--record', file('copy.elf', readFileSync('guests/images/spin.elf'))], /copy\.elf exists and is not a Lockstep log \(.*\): refusing to record over it/],
      ['ft: --record in a missing directory', () => ['ft', 'spin', '--record', join(dir, 'no', 'r.ftlog')], /--record: cannot write .*r\.ftlog: no directory/],
      ['replay: a log with no entries', () => ['replay', file('empty.ftlog', encodeFileHeader({ ...earlierMeta, session: 'lonely' }))], /empty\.ftlog holds no log entries: its recording ended before the first was written/],
      ['replay: a directory', () => ['replay', dir], /EISDIR/],
      [
        'replay: a log of an image that is not here',
        () => ['replay', file('moved.ftlog', Buffer.concat([encodeFileHeader({ ...earlierMeta, guest: 'moved.elf' }), encodeEntry({ kind: 'input', seq: 1, at: 1, device: 'serial', data: Buffer.from('x\n') })]))],
        /the log was recorded with "moved\.elf", which cannot be loaded here \(.*\): give the image as well \(lockstep replay FILE IMAGE/,
      ],
      ['replay: a header whose values build no machine', () => ['replay', file('bogus.ftlog', encodeFileHeader({ ...earlierMeta, clock: 'bogus' as 'virtual' }))], /bogus\.ftlog: bad file header: metadata field clock is "bogus", not "virtual" or "host" at byte \d+/],
      ['host --listen without a token', () => ['host', '--listen', '127.0.0.1:0'], /host --listen needs --token/],
      ['host without --listen', () => ['host'], /lockstep host is started by `lockstep ft`; to serve a remote cluster, use lockstep host --listen/],
      ['an unknown command', () => ['frobnicate'], /unknown command 'frobnicate'/],
      ['ft: an unknown --mode', () => ['ft', 'kv', '--mode', 'remus'], /--mode: expected replay or checkpoint, got 'remus'/],
      ['ft: a checkpoint option without --mode checkpoint', () => ['ft', 'kv', '--checkpoint-ms', '25'], /--checkpoint-ms is for --mode checkpoint/],
      ['ft: both checkpoint intervals', () => ['ft', 'kv', '--mode', 'checkpoint', '--checkpoint-ms', '25', '--checkpoint-instructions', '2000000'], /give one of them/],
      ['ft: --checkpoint-instructions with --epoch', () => ['ft', 'kv', '--mode', 'checkpoint', '--checkpoint-instructions', '2000000', '--epoch', '2000000'], /sets the epoch length: leave out --epoch/],
      ['ft: --checkpoint-ms 0', () => ['ft', 'kv', '--mode', 'checkpoint', '--checkpoint-ms', '0'], /--checkpoint-ms: expected a whole number from 1 .*got '0'/],
      ['demo: an unknown --mode', () => ['demo', '--mode', 'x'], /--mode: expected replay or checkpoint, got 'x'/],
      ['ft: an unknown --coordinator', () => ['ft', 'kv', '--coordinator', 'zookeeper'], /--coordinator: expected embedded or etcd:\/\/HOST:PORT\[,HOST:PORT\.\.\.\], got 'zookeeper'/],
      ['ft: an --coordinator etcd that is not there', () => ['ft', 'kv', '--coordinator', 'etcd://127.0.0.1:1'], /^lockstep: --coordinator etcd:\/\/127\.0\.0\.1:\d+: cannot reach etcd \(.+\)$/m],
      ['ft: --hosts 1', () => ['ft', 'kv', '--hosts', '1'], /--hosts: expected a whole number from 2/],
      ['ft: --record under a view service', () => ['ft', 'kv', '--hosts', '3', '--record', join(dir, 'v.ftlog')], /--record is not supported under a view service/],
      ['ft: --mode checkpoint under a view service', () => ['ft', 'kv', '--hosts', '3', '--mode', 'checkpoint'], /--mode checkpoint is not supported under a view service/],
      ['demo: --kills 0', () => ['demo', '--kills', '0'], /--kills: expected a whole number from 1/],
      ['demo: --dead-pings 1', () => ['demo', '--hosts', '3', '--dead-pings', '1'], /--dead-pings: expected a whole number from 2/],
      ['demo: --mode checkpoint with spares', () => ['demo', '--hosts', '3', '--mode', 'checkpoint'], /--mode checkpoint is not supported under a view service/],
    ];

    // Independent processes, run in two lanes (this machine has 2 cores), started by the first test. Each test
    // waits for its own case only, so its timeout covers one command, not all of them.
    let results: Promise<CliResult>[] | undefined;
    const resultOf = (index: number) => {
      results ??= cases.reduce<Promise<CliResult>[]>((lanes, [, args], i) => {
        lanes.push((lanes[i - 2] ?? Promise.resolve()).then(() => lockstep(args())));
        return lanes;
      }, []);
      return results[index];
    };

    cases.forEach(([what, , message], index) => {
      it(what, async () => {
        const result = await resultOf(index);
        assert.equal(result.status, 2, `exit status (stderr: ${result.stderr})`);
        assert.equal(result.stdout, '');
        assert.match(result.stderr, /^lockstep: [^\n]+\n$/, `one line on stderr, got: ${result.stderr}`);
        assert.match(result.stderr, message);
      });
    });

    it('ft: a service address already in use (a host cannot start: its reason, not a stack)', async () => {
      const taken = createServer();
      await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
      const { port } = taken.address() as AddressInfo;
      const result = await lockstep(['ft', 'spin', '--service', `127.0.0.1:${port}`]).finally(() => taken.close());
      assert.equal(result.status, 2, `exit status (stderr: ${result.stderr})`);
      assert.match(result.stderr, new RegExp(`\nlockstep: host-1: listen EADDRINUSE: address already in use 127\\.0\\.0\\.1:${port}\n$`));
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    });
  });

  it('ft runs a pair to the guest\'s end and exits 0; with every host killed it says so and exits 1', async () => {
    const summary = JSON.parse(await ok(['ft', 'spin', '--cmdline', 'iterations=1000000', '--json']));
    assert.deepEqual(Object.keys(summary.hosts), ['host-1', 'host-2']);
    const lost = await lockstep(['ft', 'kv', '--fault', 'kill-backup@1s', '--fault', 'kill-primary@2s', '--no-restore']);
    assert.equal(lost.status, 1, lost.stderr);
    assert.match(lost.stderr, /lockstep: no host is alive any more: nothing can run the guest again\n/);
  });

  it('a command that finds a problem exits 1: join of a run with a damaged host file', async () => {
    const path = join(dir, 'partial.ftlog');
    const write = async (to: string, count: number) => {
      const writer = await LogWriter.create(to, { ...earlierMeta, session: 'partial' });
      for (let seq = 1; seq <= count; seq++) writer.append({ kind: 'input', seq, at: seq, device: 'serial', data: Buffer.from('x\n') });
      await writer.close();
    };
    await write(path, 1);
    await write(`${path}.host-2`, 3);
    const bytes = readFileSync(`${path}.host-2`);
    const end = encodeEntry({ kind: 'end', seq: 4, at: 3, how: 'closed', detail: '' }).length;
    bytes[bytes.length - end - 2] ^= 0xff; // entry 3's checksum
    writeFileSync(`${path}.host-2`, bytes);
    const result = await lockstep(['join', path]);
    assert.equal(result.status, 1, result.stderr);
    assert.match(result.stderr, /partial\.ftlog: joined .*partial\.ftlog \+ .*partial\.ftlog\.host-2; removed 1 host file\(s\); it ends with an end entry saying its run was killed\n/);
    assert.match(result.stderr, /partial\.ftlog\.host-2 is damaged \(checksum mismatch at byte \d+\): only the entries before that were read\n/);
  });

  describe('snapshots across processes', () => {
    it('--snapshot-at writes a file that --from-snapshot continues from, to the same end', async () => {
      const snapshot = join(dir, 'spin.snap');
      const common = ['run', 'spin', '--cmdline', 'iterations=1000000', '--epoch', '1000000', '--json'];
      const writer = JSON.parse(await ok([...common, '--snapshot-at', '5000000', '--snapshot-file', snapshot]));
      assert.ok(readFileSync(snapshot).length > 0);
      const restored = JSON.parse(await ok([...common, '--from-snapshot', snapshot]));
      assert.equal(restored.stateHash, writer.stateHash);
      assert.equal(restored.instructions, writer.instructions);
      assert.deepEqual(
        restored.epochHashes,
        writer.epochHashes.slice(writer.epochHashes.length - restored.epochHashes.length),
      );
      assert.equal(restored.serial, writer.serial);
      const other = await lockstep(['run', 'kv', '--from-snapshot', snapshot]);
      assert.equal(other.status, 2);
      assert.match(other.stderr, /^lockstep: snapshot was taken of another guest image[^\n]*\n$/);
      // One byte changed anywhere, or the end cut off, is caught by the file's checksum.
      const bytes = readFileSync(snapshot);
      for (const [name, damaged] of [['flipped.snap', Buffer.from(bytes).fill(bytes[5000] ^ 1, 5000, 5001)], ['cut.snap', bytes.subarray(0, bytes.length - 100)]] as const) {
        const result = await lockstep([...common, '--from-snapshot', file(name, damaged)]);
        assert.equal(result.status, 2, result.stderr);
        assert.match(result.stderr, new RegExp(`^lockstep: .*${name.replace('.', '\\.')}: damaged snapshot file: its \\d+ bytes after byte 12 do not match the checksum at byte 8 \\(cut short or changed\\)\n$`));
      }
    });
  });

  describe('a BIOS guest (SeaBIOS)', () => {
    it('boots guests/images/bootsector.img with --bios and prints its line', async function () {
      skipWithoutBios(this);
      const out = await ok(['run', 'guests/images/bootsector.img', '--bios', SEABIOS, '--vga-bios', VGABIOS]);
      assert.equal(out, 'bootsector: hello from the BIOS boot path drive=80\n');
    });

    it('an initrd that does not fit the memory is refused in one line with the sizes', async function () {
      skipWithoutBios(this);
      // The refusal comes before anything boots: a file with a bzImage's header signature is enough.
      const bzImage = Buffer.alloc(0x400);
      bzImage.write('HdrS', 0x202, 'latin1');
      writeFileSync(join(dir, 'bzImage'), bzImage);
      writeFileSync(join(dir, 'initrd'), Buffer.alloc(1 << 20));
      const args = ['run', join(dir, 'bzImage'), '--bios', SEABIOS, '--initrd', join(dir, 'initrd'), '--memory', '64'];
      const { status, stderr } = await lockstep(args);
      assert.equal(status, 2);
      assert.equal(stderr, 'lockstep: the initrd (1048576 bytes) does not fit in 64 MiB of memory: v86 puts it at 64 MiB, so it needs at least 65 MiB (--memory 65)\n');
    });
  });
});
