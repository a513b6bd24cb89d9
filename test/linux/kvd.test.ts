// The linux guest (guests/linux/, built by `npm run build:linux` outside git): a Debian i386 kernel
// whose /init runs kvd, the kv protocol on the serial console and on UDP 7070. Skipped when the guest
// is not built. Each test boots Linux once (about 3.2 G instructions: tens of seconds or more).
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arpFrame, describeFrame, internetChecksum, parseFrame, parseIp, udpFrame } from '../../src/ft/workload';
import { GUEST_MAC, linuxGuestDir, loadImage, Machine, Recorder } from '../../src/ft/machine';

/**
 * Requests go in after the guest is surely up: kvd's ready line comes at about 3.2 G instructions,
 * and Linux takes serial bytes long before kvd reads them (its console echoes them, and probing the
 * UART eats some), so a line a time "whenever the guest has read everything" would be fed too early.
 * Idle time costs little: an idle guest's count moves on at the nominal rate.
 */
const REQUESTS_AT = 5_000_000_000;
const LIMIT = 8_000_000_000;

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { maxBuffer: 16 << 20, timeout: 400_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('linux guest (npm run build:linux)', function () {
  this.timeout(600_000);

  before(function () {
    const manifest = join(linuxGuestDir(), 'manifest.json');
    if (!existsSync(manifest)) {
      console.log(`      (skipped: the linux guest is not built, no ${manifest}; run npm run build:linux)`);
      this.skip();
    }
  });

  it('`lockstep run linux` serves kv requests on the serial console and halts after 0 0 SHUTDOWN', async () => {
    const exchange: [string, string | null][] = [
      ['1 1 PUT a x', '1 1 OK'],
      ['1 2 APPEND a yz', '1 2 OK'],
      ['1 2 APPEND a yz', '1 2 OK'], // a duplicate: the remembered reply, not applied again
      ['2 1 GET a', '2 1 VALUE xyz'],
      ['1 1 GET a', '1 1 ERR stale'],
      ['', null],
      ['1 3 GET b', '1 3 NOKEY'],
      ['1 4 get a', '1 4 ERR badop'],
      ['1 5 PUT a', '1 5 ERR badargs'],
      [`1 6 PUT ${'k'.repeat(33)} v`, '1 6 ERR badkey'],
      ['1 7 PUT a b\x01c', '1 7 ERR badchar'],
      ['1 8 GET a\r', '1 8 VALUE xyz'],
      ['nonsense', '0 0 ERR badclient'],
      ['0 1 GET a', '0 1 ERR badclient'],
      ['3 0 GET a', '3 0 ERR badseq'],
    ];
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-linux-'));
    try {
      const script = join(dir, 'input.txt');
      const lines = [...exchange.map(([request]) => request), '0 0 SHUTDOWN'];
      writeFileSync(script, lines.map((line, i) => `@${REQUESTS_AT + i} ${line}\n`).join(''), 'latin1');
      const { code, stdout, stderr } = await cli(['run', 'linux', '--input', script, '--json', '--max-instructions', String(LIMIT)]);
      assert.equal(code, 0, stderr);
      const result = JSON.parse(stdout) as { end: string; serial: string; instructions: number; wallMs: number };
      // The kernel may print a warning or two before kvd is up (quiet keeps only those), and says how
      // it stopped after kvd has said goodbye: the protocol is what lies between the ready line and the bye.
      const output = result.serial.split('\n');
      const ready = output.indexOf('kv ready');
      assert.ok(ready >= 0, `a ready line in ${JSON.stringify(result.serial.slice(-2000))}`);
      const bye = output.indexOf('kv bye', ready);
      assert.deepEqual(output.slice(ready, bye + 1), ['kv ready', ...exchange.map(([, reply]) => reply).filter((r) => r !== null), 'kv bye']);
      assert.equal(result.end, 'halted', 'init powers off once kvd has ended');
      console.log(`      (halted at ${(result.instructions / 1e9).toFixed(2)} G instructions, ${(result.wallMs / 1000).toFixed(1)} s)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('answers ARP for 10.0.2.15 and serves kv over UDP to each sender MAC, sharing the store with serial', async () => {
    const clientIp = parseIp('10.0.2.2');
    const kvIp = parseIp('10.0.2.15');
    const macOf = (n: number) => Uint8Array.of(0x02, 0x4d, 0, 0, 0, n);
    const recorder = new Recorder(() => undefined);
    const image = loadImage('linux');
    const { memoryMiB, cmdline } = image.boot!;
    const machine = await Machine.create({ image, nondet: recorder, memoryMiB, cmdline, epochLength: 100_000_000 });
    try {
      let serial = '';
      const frames: Uint8Array[] = [];
      machine.on({ output: (d) => { serial += Buffer.from(d).toString('latin1'); }, frame: (f) => frames.push(f) });
      /** Runs slices until `done` or until `budget` more instructions have gone by. */
      const until = (done: () => boolean, budget: number) => {
        const end = machine.instructions + budget;
        while (!done() && !machine.isEnded && machine.instructions < end) machine.runSlice();
      };
      until(() => serial.includes('kv ready\n'), LIMIT);
      assert.ok(serial.includes('kv ready\n'), `booted: ${JSON.stringify(serial.slice(-2000))}`);
      const readyAt = machine.instructions;
      serial = '';

      const send = (input: { frame?: Uint8Array; line?: string }, want: { frames?: number; serial?: string }) => {
        const from = frames.length;
        serial = '';
        if (input.frame) recorder.queue('net', input.frame);
        if (input.line) recorder.queue('serial', Buffer.from(`${input.line}\n`));
        until(() => frames.length - from >= (want.frames ?? 0) && serial.includes(want.serial ?? ''), 2_000_000_000);
        return frames.slice(from).filter((f) => parseFrame(f)?.ethertype !== 0x86dd);
      };
      const request = (mac: number, payload: string, srcPort = 40000 + mac) => udpFrame({
        srcMac: macOf(mac), dstMac: GUEST_MAC, srcIp: clientIp, dstIp: kvIp, srcPort, dstPort: 7070,
        payload: Buffer.from(payload),
      });
      const replyOf = (sent: Uint8Array[], mac: number, srcPort = 40000 + mac): string => {
        const shown = sent.map((f) => describeFrame(f, (p) => JSON.stringify(Buffer.from(p).toString())));
        assert.equal(sent.length, 1, `one frame back: ${shown.join('; ')}`);
        const udp = parseFrame(sent[0])?.udp;
        assert.ok(udp?.checksumOk, 'a UDP datagram with a good checksum');
        assert.equal(internetChecksum(sent[0].subarray(14, 34)), 0, 'IPv4 header checksum');
        assert.deepEqual(
          [udp.dstMac, udp.srcMac, udp.dstIp, udp.srcIp, udp.dstPort, udp.srcPort],
          [macOf(mac), GUEST_MAC, clientIp, kvIp, srcPort, 7070],
        );
        return Buffer.from(udp.payload).toString();
      };

      const arp = send({ frame: arpFrame({ op: 'request', senderMac: macOf(1), senderIp: clientIp, targetMac: new Uint8Array(6), targetIp: kvIp }) }, { frames: 1 });
      assert.deepEqual(parseFrame(arp[0])?.arp, { op: 'reply', senderMac: GUEST_MAC, senderIp: kvIp, targetMac: macOf(1), targetIp: clientIp });
      assert.equal(replyOf(send({ frame: request(1, '1 1 PUT a x\n') }, { frames: 1 }), 1), '1 1 OK\n');
      // Another client with the same IP and its own MAC (as lockstep client kv --via net runs them).
      assert.equal(replyOf(send({ frame: request(2, '2 1 APPEND a yz') }, { frames: 1 }), 2), '2 1 OK\n');
      assert.equal(replyOf(send({ frame: request(2, '2 1 APPEND a yz\n') }, { frames: 1 }), 2), '2 1 OK\n', 'a duplicate gets the remembered reply');
      assert.deepEqual(send({ line: '3 1 GET a' }, { serial: '\n' }), [], 'a serial request is answered on serial only');
      assert.equal(serial, '3 1 VALUE xyz\n');
      assert.equal(replyOf(send({ frame: request(1, 'nonsense') }, { frames: 1 }), 1), '0 0 ERR badclient\n');
      const bye = send({ frame: request(1, '0 0 SHUTDOWN') }, { frames: 1, serial: 'kv bye\n' });
      assert.equal(replyOf(bye, 1), 'kv bye\n');
      until(() => false, 2_000_000_000);
      assert.ok(machine.isEnded, 'init powers off once kvd has ended');
      console.log(`      (kv ready at ${(readyAt / 1e9).toFixed(2)} G instructions, halted at ${(machine.instructions / 1e9).toFixed(2)} G)`);
    } finally {
      machine.destroy();
    }
  });
});
