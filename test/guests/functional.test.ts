// Functional tests of the built-in guests, run in the real deterministic machine through runGuest:
// what each guest answers, as guests/README.md specifies it. Expected values are computed here
// independently (spin's checksum, lock's expiry ticks), so a wrong build or a wrong emulation fails.
import { strict as assert } from 'node:assert';
import { arpFrame, describeFrame, internetChecksum, parseFrame, parseIp, udpFrame, type UdpDatagram } from '../../src/ft/workload';
import { GUEST_MAC, INSTRUCTIONS_PER_MS, loadImage, Machine, Recorder } from '../../src/ft/machine';
import { InputScript, runGuest, RunResult } from '../../src/ft/commands';
import { spinChecksum } from '../support/guests';

const EPOCH = 10_000_000;

interface GuestRun { lines: string[]; result: RunResult }

async function run(
  guest: string,
  options: { cmdline?: string; input?: string; limit?: number } = {},
): Promise<GuestRun> {
  const result = await runGuest({
    image: loadImage(guest),
    cmdline: options.cmdline,
    epochLength: EPOCH,
    maxInstructions: options.limit ?? 3_000_000_000,
    input: options.input === undefined ? undefined : InputScript.parse(Buffer.from(options.input, 'latin1')),
  });
  assert.equal(result.end, 'halted', `${guest} should end by itself (serial so far: ${JSON.stringify(result.serial.slice(-300))})`);
  assert.ok(result.serial.endsWith('\n'), 'the last line is complete');
  return { lines: result.serial.slice(0, -1).split('\n'), result };
}

/**
 * Runs a request/reply server (kv or lock) on untimed input, one line at a time, and checks the whole
 * output: the ready line, one expected reply per request (null: no reply), then the bye line.
 */
async function converse(guest: 'kv' | 'lock', ready: string, exchange: [string, string | null][], cmdline?: string): Promise<void> {
  const input = [...exchange.map(([request]) => request), '0 0 SHUTDOWN'].join('\n') + '\n';
  const { lines } = await run(guest, { input, cmdline });
  const expected = [ready, ...exchange.map(([, reply]) => reply).filter((r): r is string => r !== null), `${guest} bye`];
  assert.deepEqual(lines, expected);
}

describe('guest functions', function () {
  this.timeout(60_000);

  describe('spin', () => {
    it('the TypeScript reference checksum agrees with a fold written out by hand for 0 iterations', () => {
      // With no iterations the checksum is the fold of the initial table over the initial state.
      let sum = 0x9e3779b9;
      for (let i = 0; i < 1024; i++) sum = Math.imul(sum ^ (Math.imul(i, 0x01000193) + 0x811c9dc5), 0x01000193) >>> 0;
      assert.equal(spinChecksum(0), sum.toString(16).padStart(8, '0'));
      assert.notEqual(spinChecksum(1), spinChecksum(2));
    });

    for (const iterations of [0, 1, 4097, 3_000_000]) {
      it(`prints the checksum of ${iterations} iterations`, async () => {
        const { lines } = await run('spin', { cmdline: `iterations=${iterations}` });
        assert.deepEqual(lines, [`spin checksum=${spinChecksum(iterations)} iterations=${iterations}`]);
      });
    }

    it('the PIT rate does not change the result; the last iterations= wins; an invalid value means the default', async () => {
      const slow = await run('spin', { cmdline: 'iterations=20000 hz=19' });
      const fast = await run('spin', { cmdline: '/boot/spin iterations=7 hz=10000 iterations=20000 unknown=1' });
      assert.deepEqual(slow.lines, [`spin checksum=${spinChecksum(20000)} iterations=20000`]);
      assert.deepEqual(fast.lines, slow.lines);
      const bad = await run('spin', { cmdline: 'iterations=-5' });
      assert.equal(bad.lines[0], `spin checksum=${spinChecksum(12_500_000)} iterations=12500000`);
    });

    it('pages=N spreads the table over N pages (the memory-writing workload); other values mean one page', async () => {
      assert.notEqual(spinChecksum(50_000, 1024), spinChecksum(50_000));
      for (const pages of [2, 1024]) {
        const { lines } = await run('spin', { cmdline: `iterations=50000 pages=${pages}` });
        assert.deepEqual(lines, [`spin checksum=${spinChecksum(50_000, pages)} iterations=50000`]);
      }
      const odd = await run('spin', { cmdline: 'iterations=50000 pages=3' });
      assert.deepEqual(odd.lines, [`spin checksum=${spinChecksum(50_000)} iterations=50000`]);
    });
  });

  // ---- kv ----

  describe('kv', () => {
    it('PUT, APPEND and GET', () =>
      converse('kv', 'kv ready', [
        ['1 1 GET a', '1 1 NOKEY'],
        ['1 2 PUT a x', '1 2 OK'],
        ['1 3 GET a', '1 3 VALUE x'],
        ['1 4 APPEND a yz', '1 4 OK'],
        ['2 1 GET a', '2 1 VALUE xyz'],
        ['2 2 APPEND b new', '2 2 OK'], // APPEND creates the key
        ['2 3 GET b', '2 3 VALUE new'],
        ['1 5 PUT a replaced', '1 5 OK'],
        ['2 4 GET a', '2 4 VALUE replaced'],
        ['3 1 GET A', '3 1 NOKEY'], // keys are case-sensitive
        ['4294967295 4294967295 PUT max ok', '4294967295 4294967295 OK'],
        ['3 2 GET max', '3 2 VALUE ok'],
        ['3\t3\tGET   max', '3 3 VALUE ok'], // tabs and runs of spaces separate tokens
        ['3 4 GET max\r', '3 4 VALUE ok'], // a trailing CR is dropped
        ['', null], // blank lines get no reply
        ['   \t ', null],
      ]));

    it('duplicate requests: the same seq gets the remembered reply, an older one ERR stale', () =>
      converse('kv', 'kv ready', [
        ['1 5 PUT k v1', '1 5 OK'],
        ['1 5 PUT k v2', '1 5 OK'], // a duplicate: not applied again
        ['1 6 GET k', '1 6 VALUE v1'],
        ['2 1 PUT k other', '2 1 OK'],
        ['1 6 GET k', '1 6 VALUE v1'], // the remembered reply, not the current value
        ['1 4 GET k', '1 4 ERR stale'],
        ['1 5 APPEND k zzz', '1 5 ERR stale'], // older than the last applied (6)
        ['1 9 GET k', '1 9 VALUE other'], // sequence numbers may skip
        ['1 7 GET k', '1 7 ERR stale'],
        ['2 1 GET k', '2 1 OK'], // the duplicate check comes before the operation is looked at
        ['2 1 NONSENSE', '2 1 OK'],
        ['1 10 APPEND k !', '1 10 OK'],
        ['1 10 APPEND k !', '1 10 OK'],
        ['1 11 GET k', '1 11 VALUE other!'], // applied once
      ]));

    it('malformed lines get an error naming the problem and change nothing', () =>
      converse('kv', 'kv ready', [
        ['bad line', '0 0 ERR badclient'],
        ['1', '0 0 ERR badseq'],
        ['1 x GET a', '0 0 ERR badseq'],
        ['-1 1 GET a', '0 0 ERR badclient'],
        ['4294967296 1 GET a', '0 0 ERR badclient'], // past 32 bits
        ['0 1 GET a', '0 1 ERR badclient'],
        ['1 0 GET a', '1 0 ERR badseq'],
        ['1 1', '1 1 ERR badargs'],
        ['1 1 DELETE a', '1 1 ERR badop'],
        ['1 1 get a', '1 1 ERR badop'],
        ['1 1 GET', '1 1 ERR badargs'],
        ['1 1 GET a b', '1 1 ERR badargs'],
        ['1 1 PUT a', '1 1 ERR badargs'],
        ['1 1 PUT a b c', '1 1 ERR badargs'],
        ['1 1 PUT a b c d e f', '1 1 ERR badargs'], // more tokens than the parser keeps
        ['1 1 PUT a b\x01c', '1 1 ERR badchar'],
        ['1 1 PUT a \xe9', '1 1 ERR badchar'],
        ['1 1 PUT a b\x7f', '1 1 ERR badchar'],
        ['1 1 GET a', '1 1 NOKEY'], // none of the errors was applied or remembered
        ['0 0 SHUTDOWN now', '0 0 ERR badclient'], // SHUTDOWN takes no arguments
      ]));

    it('limits: key and value lengths, line length, 512 keys, 128 clients', async () => {
      const key32 = 'k'.repeat(32);
      const value1024 = 'v'.repeat(1024);
      const exchange: [string, string | null][] = [
        [`1 1 PUT ${key32} x`, '1 1 OK'],
        [`1 2 PUT ${key32}K x`, '1 2 ERR badkey'],
        [`1 3 GET ${key32}K`, '1 3 ERR badkey'],
        [`1 4 PUT big ${value1024}`, '1 4 OK'],
        ['1 5 APPEND big w', '1 5 ERR toolong'], // would grow past 1024 bytes: not applied
        [`1 6 PUT big2 ${value1024}w`, '1 6 ERR toolong'],
        ['1 7 GET big', `1 7 VALUE ${value1024}`],
        [`1 8 PUT half ${'h'.repeat(1000)}`, '1 8 OK'],
        [`1 9 APPEND half ${'h'.repeat(24)}`, '1 9 OK'], // exactly 1024
        ['1 10 GET half', `1 10 VALUE ${'h'.repeat(1024)}`],
        [`1 11 PUT long ${'x'.repeat(1100)}`, '1 11 ERR toolong'], // line over 1100 bytes
        ['1 12 GET long', '1 12 NOKEY'],
      ];
      // 3 keys so far, and client 1 is the only client. Clients 2..128 fill the client table (one key
      // each), then client 1 fills the key table to 512.
      let keys = 3;
      for (let client = 2; client <= 128; client++, keys++) exchange.push([`${client} 1 PUT c${client} ${client}`, `${client} 1 OK`]);
      for (let seq = 100; keys < 512; seq++, keys++) exchange.push([`1 ${seq} PUT k${seq} ${seq}`, `1 ${seq} OK`]);
      exchange.push(
        ['1 1000 PUT onemore x', '1 1000 ERR full'],
        ['1 1001 PUT big replaced', '1 1001 OK'], // an existing key can still change
        ['1 1002 APPEND k100 0', '1 1002 OK'],
        ['1 1003 GET onemore', '1 1003 NOKEY'],
        ['1 1004 GET k100', '1 1004 VALUE 1000'],
        ['129 1 GET big', '129 1 ERR toomanyclients'],
        ['128 2 GET c128', '128 2 VALUE 128'],
      );
      await converse('kv', 'kv ready', exchange);
    });
  });

  describe('kv over UDP (its NE2000)', () => {
    const CLIENT_MAC = Uint8Array.of(0x02, 0x4d, 0, 0, 0, 1);
    const CLIENT_IP = parseIp('10.0.2.2');
    const KV_IP = parseIp('10.0.2.15');

    /** kv booted in a machine, with frames and serial lines sent at boundaries and what it sends back. */
    async function bootKv() {
      const recorder = new Recorder(() => undefined);
      const machine = await Machine.create({ image: loadImage('kv'), nondet: recorder, epochLength: EPOCH });
      let serial = '';
      const frames: Uint8Array[] = [];
      machine.on({ output: (d) => { serial += Buffer.from(d).toString('latin1'); }, frame: (f) => frames.push(f) });
      const settle = () => {
        machine.runSlice(); // the boundary that delivers the input
        while (!machine.isHalted && !machine.isEnded) machine.runSlice();
      };
      settle();
      assert.equal(serial, 'kv ready\n');
      /** Delivers one input and runs until the guest waits again; returns what it sent meanwhile. */
      const exchange = (input: { frame?: Uint8Array; line?: string }) => {
        const [fromFrames, fromSerial] = [frames.length, serial.length];
        if (input.frame) recorder.queue('net', input.frame);
        if (input.line) recorder.queue('serial', Buffer.from(`${input.line}\n`));
        settle();
        return { frames: frames.slice(fromFrames), serial: serial.slice(fromSerial), ended: machine.isEnded };
      };
      return { machine, exchange };
    }

    const request = (payload: string, edit: Partial<UdpDatagram> = {}) => udpFrame({
      srcMac: CLIENT_MAC,
      dstMac: GUEST_MAC,
      srcIp: CLIENT_IP,
      dstIp: KV_IP,
      srcPort: 40001,
      dstPort: 7070,
      payload: Buffer.from(payload),
      ...edit,
    });

    /** The one reply datagram: to the requester, from kv's address, checksums valid; its payload. */
    function replyOf(sent: Uint8Array[], srcPort = 40001): string {
      assert.equal(sent.length, 1, 'one frame back');
      const udp = parseFrame(sent[0])?.udp;
      assert.ok(udp, `a UDP datagram: ${describeFrame(sent[0], (p) => JSON.stringify(Buffer.from(p).toString()))}`);
      assert.ok(udp.checksumOk);
      assert.equal(internetChecksum(sent[0].subarray(14, 34)), 0, 'IPv4 header checksum');
      assert.deepEqual(
        [udp.dstMac, udp.srcMac, udp.dstIp, udp.srcIp, udp.dstPort, udp.srcPort],
        [CLIENT_MAC, GUEST_MAC, CLIENT_IP, KV_IP, srcPort, 7070],
      );
      return Buffer.from(udp.payload).toString();
    }

    it('answers ARP for its address only, and serves the store over UDP, shared with serial, each reply the way its request came', async () => {
      const { exchange } = await bootKv();
      const arp = exchange({ frame: arpFrame({ op: 'request', senderMac: CLIENT_MAC, senderIp: CLIENT_IP, targetMac: new Uint8Array(6), targetIp: KV_IP }) });
      assert.equal(arp.frames.length, 1);
      assert.deepEqual(parseFrame(arp.frames[0])?.arp, { op: 'reply', senderMac: GUEST_MAC, senderIp: KV_IP, targetMac: CLIENT_MAC, targetIp: CLIENT_IP });
      assert.deepEqual(exchange({ frame: arpFrame({ op: 'request', senderMac: CLIENT_MAC, senderIp: CLIENT_IP, targetMac: new Uint8Array(6), targetIp: parseIp('10.0.2.99') }) }).frames, []);

      const put = exchange({ frame: request('1 1 PUT a x\n') });
      assert.equal(replyOf(put.frames), '1 1 OK\n');
      assert.equal(put.serial, '', 'nothing about the network on serial');
      assert.equal(replyOf(exchange({ frame: request('1 2 APPEND a yz', { srcPort: 40002 }) }).frames, 40002), '1 2 OK\n', 'no trailing newline; the reply goes to the port it came from');
      assert.equal(replyOf(exchange({ frame: request('1 2 APPEND a yz\n') }).frames), '1 2 OK\n', 'a duplicate gets the remembered reply');
      const viaSerial = exchange({ line: '2 1 GET a' });
      assert.deepEqual(viaSerial, { frames: [], serial: '2 1 VALUE xyz\n', ended: false }, 'serial sees the same store; its reply stays on serial');
      assert.equal(replyOf(exchange({ frame: request('2 1 GET a\n') }).frames), '2 1 VALUE xyz\n', 'and the same duplicate table');
      assert.equal(replyOf(exchange({ frame: request('nonsense\n') }).frames), '0 0 ERR badclient\n');
    });

    it('drops frames that are not for it or are damaged, without applying them', async () => {
      const { exchange } = await bootKv();
      const damaged = (frame: Uint8Array, at: number) => { frame[at] ^= 0x01; return frame; };
      const dropped = {
        'another UDP port': request('1 1 PUT a bad\n', { dstPort: 7071 }),
        'another IP address': request('1 1 PUT a bad\n', { dstIp: parseIp('10.0.2.16') }),
        'another MAC': request('1 1 PUT a bad\n', { dstMac: Uint8Array.of(2, 0, 0, 0, 0, 9) }),
        'a bad IPv4 header checksum': damaged(request('1 1 PUT a bad\n'), 14 + 10),
        'a bad UDP checksum': damaged(request('1 1 PUT a bad\n'), 14 + 20 + 6),
      };
      for (const [what, frame] of Object.entries(dropped)) assert.deepEqual(exchange({ frame }), { frames: [], serial: '', ended: false }, what);
      assert.equal(replyOf(exchange({ frame: request('1 1 GET a\n') }).frames), '1 1 NOKEY\n', 'none of them was applied');
    });

    it('0 0 SHUTDOWN over UDP: kv bye by datagram and on serial, and the guest ends', async () => {
      const { machine, exchange } = await bootKv();
      const bye = exchange({ frame: request('0 0 SHUTDOWN') });
      assert.equal(replyOf(bye.frames), 'kv bye\n');
      assert.equal(bye.serial, 'kv bye\n');
      machine.runSlice(); // the slice that finds it halted with interrupts off
      assert.ok(machine.isEnded);
    });
  });

  // ---- lock ----

  describe('lock', () => {
    it('grants, reports BUSY with the holder, releases; duplicates and errors', () =>
      converse('lock', 'lock ready hz=100', [
        ['1 1 ACQUIRE x 60000', '1 1 GRANTED x'],
        ['2 1 ACQUIRE x 60000', '2 1 BUSY x 1'],
        ['2 2 ACQUIRE y 60000', '2 2 GRANTED y'],
        ['1 2 ACQUIRE x 60000', '1 2 GRANTED x'], // the holder renews
        ['2 3 RELEASE x', '2 3 ERR notheld'],
        ['2 3 RELEASE x', '2 3 ERR notheld'], // remembered like any answer
        ['1 3 RELEASE x', '1 3 RELEASED x'],
        ['1 3 RELEASE x', '1 3 RELEASED x'], // a duplicate, not a second release
        ['1 4 RELEASE x', '1 4 ERR notheld'],
        ['2 1 ACQUIRE x 60000', '2 1 ERR stale'],
        ['2 4 ACQUIRE x 60000', '2 4 GRANTED x'],
        ['3 1 RELEASE nolock', '3 1 ERR notheld'],
        ['3 2 ACQUIRE z 0', '3 2 ERR badms'],
        ['3 3 ACQUIRE z 86400001', '3 3 ERR badms'],
        ['3 4 ACQUIRE z 1s', '3 4 ERR badms'],
        ['3 5 ACQUIRE z 86400000', '3 5 GRANTED z'],
        [`3 6 ACQUIRE ${'n'.repeat(33)} 10`, '3 6 ERR badname'],
        [`3 7 ACQUIRE ${'n'.repeat(32)} 60000`, `3 7 GRANTED ${'n'.repeat(32)}`],
        ['3 8 ACQUIRE z', '3 8 ERR badargs'],
        ['3 8 LOCK z 10', '3 8 ERR badop'],
        ['x 1 ACQUIRE z 10', '0 0 ERR badclient'],
        ['4 1 ACQUIRE z 10', '4 1 BUSY z 3'],
      ]));

    it('clamps the PIT rate it reports', async () => {
      assert.deepEqual((await run('lock', { cmdline: 'hz=5', input: '0 0 SHUTDOWN\n' })).lines, ['lock ready hz=19', 'lock bye']);
      assert.deepEqual((await run('lock', { cmdline: 'hz=20000', input: '0 0 SHUTDOWN\n' })).lines, ['lock ready hz=10000', 'lock bye']);
    });

    /** The guest programs the PIT with divisor round(1193182 / hz); v86 counts at 1193.1816666 kHz. */
    const tickInstructions = (hz: number) =>
      (Math.floor((1193182 + Math.floor(hz / 2)) / hz) / 1193.1816666) * INSTRUCTIONS_PER_MS;
    /** The instruction count halfway through tick k (well away from any tick edge). */
    const midTick = (hz: number, k: number) => Math.round((k + 0.5) * tickInstructions(hz));
    /** Ticks a lease of `ms` lasts (lock.c: ceil(ms * hz / 1000), at least 1), computed independently. */
    const leaseTicks = (ms: number, hz: number) => Math.max(1, Math.ceil((ms * hz) / 1000));

    for (const [hz, ms] of [[100, 25], [250, 30], [100, 1], [19, 1000]] as const) {
      it(`a lease of ${ms} ms at ${hz} Hz expires after ${leaseTicks(ms, hz)} tick(s) of guest time`, async () => {
        const granted = 10; // the tick during which the lease is granted
        const expiry = granted + leaseTicks(ms, hz);
        const timed = [
          [midTick(hz, granted), '1 1 ACQUIRE lease ' + ms],
          [midTick(hz, expiry - 1), '2 1 ACQUIRE lease 5000'], // before expiry: still held
          [midTick(hz, expiry), '2 2 ACQUIRE lease 5000'], // after expiry: free
          [midTick(hz, expiry + 1), '0 0 SHUTDOWN'],
        ] as const;
        const input = timed.map(([at, text]) => `@${at} ${text}`).join('\n');
        const { lines, result } = await run('lock', { cmdline: `hz=${hz}`, input });

        // Guard the test's own assumption: each line reached the guest in the tick it was aimed at.
        const delivered = result.recorded.filter((e) => e.kind === 'input').map((e) => e.at);
        assert.equal(delivered.length, timed.length);
        delivered.forEach((at, i) => {
          const tick = at / tickInstructions(hz);
          assert.ok(at >= timed[i][0] && tick - Math.floor(tick) < 0.9, `input ${i} delivered at ${at}, tick ${tick.toFixed(3)}`);
        });

        assert.deepEqual(lines, [
          `lock ready hz=${hz}`,
          '1 1 GRANTED lease',
          '2 1 BUSY lease 1',
          `EXPIRED lease 1 tick=${expiry}`,
          '2 2 GRANTED lease',
          'lock bye',
        ]);
      });
    }

    it('renewing a lease moves its expiry; releasing one frees it with no EXPIRED line', async () => {
      const hz = 100;
      const input = [
        [midTick(hz, 5), '1 1 ACQUIRE a 50'], // would expire at tick 10
        [midTick(hz, 6), '2 1 ACQUIRE b 30'], // expires at tick 9
        [midTick(hz, 8), '1 2 ACQUIRE a 50'], // renewed: expires at tick 13
        [midTick(hz, 11), '3 1 ACQUIRE a 10'],
        [midTick(hz, 12), '1 3 ACQUIRE c 20'], // released before its expiry at tick 14
        [midTick(hz, 13), '1 4 RELEASE c'],
        [midTick(hz, 20), '0 0 SHUTDOWN'],
      ].map(([at, text]) => `@${at} ${text}`).join('\n');
      const { lines } = await run('lock', { cmdline: `hz=${hz}`, input });
      assert.deepEqual(lines, [
        'lock ready hz=100',
        '1 1 GRANTED a',
        '2 1 GRANTED b',
        '1 2 GRANTED a',
        'EXPIRED b 2 tick=9',
        '3 1 BUSY a 1',
        '1 3 GRANTED c',
        'EXPIRED a 1 tick=13',
        '1 4 RELEASED c',
        'lock bye',
      ]);
    });
  });

  // ---- ticker ----

  describe('ticker', () => {
    const hashLine = /^ticker (tick=(\d+)|done) hash=([0-9a-f]{8})$/;

    it('prints its hash every N ticks, then done with the final hash', async () => {
      const { lines } = await run('ticker', { cmdline: 'hz=1000 ticks=250 every=50' });
      assert.equal(lines.length, 6, lines.join('\n'));
      lines.forEach((line) => assert.match(line, hashLine));
      assert.deepEqual(lines.slice(0, 5).map((line) => hashLine.exec(line)![2]), ['50', '100', '150', '200', '250']);
      assert.equal(hashLine.exec(lines[5])![1], 'done');
      // The hash is frozen at the last tick, so done repeats the hash printed at tick 250.
      assert.equal(hashLine.exec(lines[5])![3], hashLine.exec(lines[4])![3]);
      assert.equal(new Set(lines.slice(0, 5).map((line) => hashLine.exec(line)![3])).size, 5, 'the hash moves');
    });

    it('its hash depends on where the timer interrupts land: another rate, another hash', async () => {
      const done = async (cmdline: string) => {
        const { lines } = await run('ticker', { cmdline });
        assert.equal(lines.length, 1, lines.join('\n'));
        return hashLine.exec(lines[0])![3];
      };
      const at1000 = await done('hz=1000 ticks=100 every=0');
      assert.equal(await done('hz=1000 ticks=100 every=0'), at1000, 'same configuration, same hash');
      assert.notEqual(await done('hz=997 ticks=100 every=0'), at1000);
      assert.notEqual(await done('hz=500 ticks=100 every=0'), at1000);
    });

    it('with ticks=0 it is done at once, with the initial hash', async () => {
      const { lines } = await run('ticker', { cmdline: 'ticks=0' });
      assert.deepEqual(lines, ['ticker done hash=811c9dc5']);
    });
  });
});
