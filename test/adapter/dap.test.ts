// The debug adapter through DAP (DebugClient against `lockstep dap`), with real guests and, for FT
// sessions, real host processes joined by the logging channel.
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { FlowControl } from 'iced-x86';
import { decodeAt } from '../support/decode';
import { DiskFile, loadImage } from '../../src/ft/machine';
import { runGuest } from '../../src/ft/commands';
import { readLogFile } from '../../src/ft/log';
import type { ChannelEventBody, EntriesEventBody, OutputEventBody } from '../../src/adapter/protocol';
import { SCOPES } from '../../src/adapter/variables';
import { until } from '../support/cluster';
import { Adapter, channelEvent, prng, scopeReference } from './support';
import { SEABIOS, skipWithoutBios, VGABIOS } from '../support/bios';
import { diskGuest } from '../support/rawguest';

/** A disk image that SeaBIOS boots (guests/bootsector/). */
const BOOTSECTOR = join(__dirname, '..', '..', 'guests', 'images', 'bootsector.img');
/**
 * spin: a busy loop (every count is an instruction) with timer interrupts; about 320 M instructions.
 * FT pairs on spin detect failure after 10 s of silence, not 1 s: no test of them measures detection, and on a
 * loaded machine a host busy with a long debugger movement can be silent for over 1 s, and the spurious
 * failover that follows changes the threads under the test. A failover by killing the primary takes this long.
 */
const SPIN = {
  guest: 'spin', cmdline: 'iterations=20000000 hz=1000', epochLength: 10_000_000, memory: 16, detectTimeout: 10_000, heartbeat: 100,
};

/** Where `action` leaves thread 1: instruction count and EIP. */
async function place(adapter: Adapter, threadId = 1): Promise<{ at: number; eip: number }> {
  return { at: await adapter.instructions(threadId), eip: await adapter.eip(threadId) };
}

describe('debug adapter (DAP, real hosts)', function () {
  this.timeout(120_000);

  describe('an FT pair on spin', () => {
    let adapter: Adapter;
    let entry: Awaited<ReturnType<Adapter['launch']>>;

    before(async () => {
      adapter = await Adapter.start();
      entry = await adapter.launch({ ...SPIN, stopOnEntry: true });
    });
    after(async () => adapter?.stop());

    it('launches and stops on entry, both machines at instruction 0', async () => {
      assert.equal(entry?.reason, 'entry');
      assert.deepEqual(await adapter.threads(), { 1: 'primary (host-1)', 2: 'backup (host-2)' });
      for (const thread of [1, 2]) assert.equal(await adapter.instructions(thread), 0);
      assert.equal(await adapter.eip(1), await adapter.eip(2));
    });

    it('steps 50 instructions, each EIP where iced-x86 decodes the guest code to go', async () => {
      await adapter.runTo(1, 123_457);
      let { at, eip } = await place(adapter);
      for (let i = 0; i < 50; i++) {
        const next = decodeAt(await adapter.read(1, eip, 16), eip);
        const slice = await adapter.slice(1);
        const stop = await adapter.step(1);
        assert.equal(stop?.reason, 'step');
        const now = await place(adapter);
        assert.equal(now.at, at + (next.sti ? 2 : 1), `one instruction (two for STI) from ${at}`);
        // Interrupts come at slice ends, or during some instructions.
        if (!(slice && slice.to <= now.at) && !next.mayInterrupt) {
          if (next.flow === FlowControl.Next) assert.equal(now.eip, eip + next.length, `after the instruction at 0x${eip.toString(16)}`);
          if (next.flow === FlowControl.UnconditionalBranch || next.flow === FlowControl.Call) {
            assert.equal(now.eip, next.target);
          }
          if (next.flow === FlowControl.ConditionalBranch) {
            assert.ok(now.eip === next.target || now.eip === eip + next.length);
          }
        }
        ({ at, eip } = now);
      }
      // Only the stepped thread moved.
      assert.equal(await adapter.instructions(2), 123_457);
    });

    it('runToInstruction to random counts lands exactly there, both machines', async () => {
      const random = prng(0xd4b);
      for (let i = 0; i < 6; i++) {
        const n = 1 + Math.floor(random() * 200_000_000);
        assert.equal(await adapter.runTo(i % 2 ? 2 : 1, n), n);
        for (const thread of [1, 2]) assert.equal(await adapter.instructions(thread), n, `thread ${thread} at ${n}`);
        assert.equal(await adapter.eip(1), await adapter.eip(2));
      }
    });

    it('runToInstruction and .goto tell the client every thread runs (continued), then stop (stopped)', async () => {
      const seen: string[] = [];
      const continued = (e: DebugProtocol.ContinuedEvent) => seen.push(`continued thread ${e.body.threadId}, all threads: ${e.body.allThreadsContinued}`);
      const stopped = (e: DebugProtocol.StoppedEvent) => seen.push(`stopped ${e.body.reason} thread ${e.body.threadId}`);
      adapter.dc.on('continued', continued);
      adapter.dc.on('stopped', stopped);
      try {
        // Both answer after the stop, so every event of the movement has arrived when they resolve.
        assert.equal(await adapter.runTo(2, 4_321_000), 4_321_000);
        const goto = await adapter.dc.evaluateRequest({ expression: '.goto 1234567', frameId: 1, context: 'repl' });
        assert.equal(goto.body.result, 'at instruction 1,234,567');
      } finally {
        adapter.dc.off('continued', continued);
        adapter.dc.off('stopped', stopped);
      }
      assert.deepEqual(seen, [
        'continued thread 2, all threads: true', 'stopped goto thread 2',
        'continued thread 1, all threads: true', 'stopped goto thread 1',
      ]);
    });

    it('stepBack returns to N-1 with the registers the forward run had there', async () => {
      const random = prng(0xbac);
      for (let i = 0; i < 3; i++) {
        const n = 1_000_000 + Math.floor(random() * 150_000_000);
        await adapter.runTo(1, n - 1);
        const before = await adapter.scope(1, 'Registers');
        assert.deepEqual(await adapter.scope(2, 'Registers'), before, 'both machines agree at N-1');
        await adapter.runTo(1, n);
        const stop = await adapter.stepBack(1);
        assert.equal(stop?.reason, 'step');
        assert.equal(await adapter.instructions(1), n - 1);
        assert.deepEqual(await adapter.scope(1, 'Registers'), before);
      }
    });

    it('an instruction breakpoint is hit, forwards and backwards', async () => {
      const start = await adapter.runTo(1, 50_000_000);
      for (let i = 0; i < 7; i++) await adapter.step(1);
      const seen = await place(adapter);
      await adapter.runTo(1, start);
      await adapter.dc.send('setInstructionBreakpoints', { breakpoints: [{ instructionReference: `0x${seen.eip.toString(16)}` }] });
      const hit = await adapter.stopAfter(() => adapter.dc.continueRequest({ threadId: 1 }));
      assert.equal(hit?.reason, 'instruction breakpoint');
      const first = await place(adapter);
      assert.equal(first.eip, seen.eip);
      assert.ok(first.at > start && first.at <= seen.at, `first hit at ${first.at}, between ${start} and ${seen.at}`);
      assert.equal(await adapter.instructions(2), first.at, 'the backup stopped at the same count');
      const again = await adapter.stopAfter(() => adapter.dc.continueRequest({ threadId: 1 }));
      assert.equal(again?.reason, 'instruction breakpoint');
      const second = await place(adapter);
      assert.ok(second.at > first.at && second.eip === seen.eip);
      const back = await adapter.stopAfter(() => adapter.dc.reverseContinueRequest({ threadId: 1 }));
      assert.equal(back?.reason, 'instruction breakpoint');
      assert.deepEqual(await place(adapter), first);
      await adapter.dc.send('setInstructionBreakpoints', { breakpoints: [] });
    });

    it('evaluates registers and memory, and disassembles around EIP', async () => {
      const eip = await adapter.eip(1);
      const value = await adapter.dc.evaluateRequest({ expression: 'eip', frameId: 1, context: 'repl' });
      assert.match(value.body.result, new RegExp(`^0x0*${eip.toString(16)} `));
      const esp = Number((await adapter.scope(1, 'Registers')).esp);
      const top = (await adapter.read(1, esp, 4)).readUInt32LE(0);
      const memory = await adapter.dc.evaluateRequest({ expression: 'dword [esp]', frameId: 1, context: 'watch' });
      assert.equal(memory.body.result, `0x${top.toString(16).padStart(8, '0')} (${top})`);
      const byte = await adapter.dc.evaluateRequest({ expression: 'byte ptr [esp+1]', frameId: 1, context: 'repl' });
      assert.equal(byte.body.result, `0x${((top >>> 8) & 0xff).toString(16).padStart(2, '0')} (${(top >>> 8) & 0xff})`);
      const code = await adapter.dc.disassembleRequest({ memoryReference: `0x${eip.toString(16)}`, instructionOffset: -5, instructionCount: 10 });
      const instructions = code.body!.instructions;
      assert.equal(instructions.length, 10);
      assert.equal(Number(instructions[5].address), eip);
      const goto = await adapter.dc.evaluateRequest({ expression: '.goto 77777', context: 'repl' });
      assert.equal(goto.body.result, 'at instruction 77,777');
    });

    it('answers malformed requests with errors, and keeps working', async () => {
      const refused: [string, unknown, RegExp][] = [
        ['noSuchRequest', {}, /unsupported request 'noSuchRequest'/],
        ['stackTrace', {}, /'threadId' must be a thread id \(a whole number\), got undefined/],
        ['stackTrace', { threadId: 'one' }, /'threadId' must be a thread id \(a whole number\), got "one"/],
        ['stackTrace', { threadId: 7 }, /no thread 7 \(threads: 1, 2\)/],
        ['stackTrace', [1, 2], /must be an object/],
        ['lockstep/runToInstruction', { threadId: 1, instruction: -5 }, /'instruction' must be a whole number/],
        ['lockstep/runToInstruction', { threadId: 1, instruction: 'far' }, /'instruction' must be a whole number/],
        ['lockstep/runToInstruction', { threadId: 99, instruction: 5 }, /no thread 99/],
        ['lockstep/logEntries', { from: 1, count: 5, filter: ['bogus'] }, /'filter' takes entry kinds/],
        ['lockstep/logEntries', { from: 1.5, count: 5 }, /'from' must be a whole number/],
        ['lockstep/injectFault', { kind: 'meteor' }, /'kind' must be one of/],
        ['lockstep/injectFault', { kind: 'drop', value: 7 }, /needs a value from 0 to 1/],
        ['lockstep/injectFault', { kind: 'drop-entry', value: 2.5 }, /drop-entry needs a log entry number/],
        ['readMemory', { memoryReference: 'here', count: 4 }, /'memoryReference' must be an address/],
        ['readMemory', { memoryReference: '0x1000', count: -1 }, /'count' must be a whole number/],
        ['writeMemory', { memoryReference: '0x1000', data: '%%%' }, /'data' must be base64/],
        ['writeMemory', { memoryReference: '0x1000', data: 'A' }, /'data' must be base64, got "A"/],
        ['disassemble', { memoryReference: '0x1000', instructionCount: 'many' }, /'instructionCount' must be a whole number/],
        ['evaluate', { expression: '[[eax' }, /cannot read|expected|unexpected|ends early/],
        ['evaluate', { expression: 'foo + 1', frameId: 1 }, /unknown register 'foo'/],
        ['evaluate', { expression: '.warp 9' }, /unknown command '.warp'/],
        ['evaluate', { expression: `${'('.repeat(100)}1${')'.repeat(100)}` }, /nests more than 64 levels deep/],
        ['evaluate', { expression: `${'-'.repeat(50_000)}1` }, /characters long; at most 1000/],
        ['evaluate', { expression: '99999999999999999999999' }, /does not fit in 64 bits/],
        ['variables', { variablesReference: 424242 }, /no variables under reference 424242/],
        ['setVariable', { variablesReference: 1, name: 'eax', value: '1' }, /no variables under reference 1/],
        ['setInstructionBreakpoints', { breakpoints: [{ instructionReference: 'nowhere' }] }, /instructionReference' must be an address/],
        ['scopes', { frameId: null }, /'frameId' must be a thread id/],
        ['launch', { guest: 'spin' }, /already launched/],
        ['configurationDone', {}, /configurationDone was already received/],
        ['next', { threadId: 1, granularity: 'bogus' }, /'granularity' must be one of instruction, statement, line, got "bogus"/],
        ['setExceptionBreakpoints', { filters: 5 }, /'filters' must be a list, got 5/],
      ];
      for (const [command, args, message] of refused) {
        await assert.rejects(adapter.dc.send(command, args), message, `${command} ${JSON.stringify(args)}`);
      }
      const registers = (await adapter.dc.scopesRequest({ frameId: 1 })).body.scopes.find((s) => s.name === 'Registers')!;
      await assert.rejects(
        adapter.dc.send('setVariable', { variablesReference: registers.variablesReference, name: 'eax', value: '0x123456789' }),
        /0x123456789 does not fit in the 32-bit register eax/,
      );
      // Writing the past is refused, naming the live edge.
      await assert.rejects(adapter.write(1, 0x800000, Buffer.from([1])), /only be written at the live edge/);
      assert.equal(Object.keys(await adapter.threads()).length, 2, 'the adapter still answers');
    });

    it('after all those stops, continuing to the end gives the epoch hashes of a run never stopped', async () => {
      const unstopped = runGuest({ image: loadImage('spin'), cmdline: SPIN.cmdline, epochLength: SPIN.epochLength, memoryMiB: SPIN.memory });
      const end = await adapter.stopAfter(() => adapter.dc.continueRequest({ threadId: 1 }));
      assert.equal(end.reason, 'end');
      const expected = (await unstopped).epochs;
      assert.deepEqual(await adapter.epochs(1), expected, 'the primary');
      assert.deepEqual(await adapter.epochs(2), expected, 'the backup');
    });
  });

  describe('the Output Rule under the debugger (kv)', () => {
    let adapter: Adapter;
    before(async () => {
      adapter = await Adapter.start();
      await adapter.launch({ guest: 'kv', stopOnEntry: true });
    });
    after(async () => adapter?.stop());

    it('a step at instruction 0 releases no output the guest makes after the instruction shown', async () => {
      const service = await adapter.dc.customRequest('lockstep/service', {});
      const { address } = service.body as { address: { host: string; port: number } };
      const client = connect(address.port, address.host);
      let received = '';
      client.on('data', (chunk) => { received += chunk.toString('latin1'); });
      await once(client, 'connect');
      try {
        // Recording the step runs the primary's whole first slice, which prints `kv ready`.
        assert.equal((await adapter.step(1)).reason, 'step');
        assert.equal(await adapter.instructions(1), 1);
        const rule = await scopeReference(adapter, 'Output Rule');
        const held = await adapter.dc.variablesRequest({ variablesReference: rule });
        const output = held.body.variables[0];
        assert.equal(output.value, '1');
        const children = await adapter.dc.variablesRequest({ variablesReference: output.variablesReference });
        const name = /^#(\d+) @([\d,]+)$/.exec(children.body.variables[0].name)!;
        const [seq, at] = name.slice(1).map((n) => Number(n.replace(/,/g, '')));
        assert.ok(at > 1, `the output belongs to instruction ${at}`);
        // Once the backup has acknowledged it, the plain Output Rule would release it: it stays held.
        const channel = await channelEvent(adapter, (c) => (c.ackedSeq ?? 0) >= seq);
        assert.deepEqual([channel.outputsHeld, channel.outputsReleased], [1, 0]);
        assert.equal(received, '', 'the service sent nothing');
        // Running past the output shows it.
        await adapter.runTo(1, at);
        await until(async () => received.includes('kv ready'), 'the output to reach the service client');
        const after = await channelEvent(adapter, (c) => c.outputsReleased === 1);
        assert.equal(after.outputsHeld, 0);
      } finally {
        client.destroy();
      }
    });
  });

  describe('a BIOS guest', () => {
    let adapter: Adapter | undefined;
    after(async () => adapter?.stop());

    it('a disk image with bios runs under FT: both hosts read the files and stop at the count', async function () {
      skipWithoutBios(this);
      adapter = await Adapter.start();
      await adapter.dc.initializeRequest();
      const stop = adapter.nextStop();
      const machine = { guest: BOOTSECTOR, bios: SEABIOS, vgaBios: VGABIOS, memory: 16, epochLength: 1_000_000 };
      await adapter.launch({ ...machine, stopAt: 2_345_678 });
      assert.equal((await stop).reason, 'goto');
      for (const thread of [1, 2]) assert.equal(await adapter.instructions(thread), 2_345_678, `thread ${thread}`);
    });
  });

  describe('launch configurations', () => {
    const DISK = join(mkdtempSync(join(tmpdir(), 'lockstep-dap-disk-')), 'disk.img');
    writeFileSync(DISK, Buffer.alloc(64 * 1024));
    let adapter: Adapter;
    before(async () => {
      adapter = await Adapter.start();
      await adapter.dc.initializeRequest();
    });
    after(async () => adapter?.stop());

    it('refuses bad attributes, naming them', async () => {
      const bad: [Record<string, unknown>, RegExp][] = [
        [{}, /'guest': missing/],
        [{ guest: 'nosuchguest' }, /'guest': unknown guest 'nosuchguest'/],
        [{ guest: 'spin', memory: 3 }, /'memory': expected a whole number from 4 to 2048, got 3/],
        [{ guest: 'spin', memory: '16' }, /'memory': expected a whole number/],
        [{ guest: 'spin', clock: 'sundial' }, /'clock': expected one of "virtual", "host", got "sundial"/],
        [{ guest: 'spin', jit: 'yes' }, /'jit': expected true or false/],
        [{ guest: 'spin', epochLength: 10 }, /'epochLength': expected a whole number from 100000/],
        [{ guest: 'spin', mode: 'triple' }, /'mode': expected one of "ft", "checkpoint", "single"/],
        [{ guest: 'spin', checkpointMs: 50 }, /'checkpointMs': goes with mode "checkpoint" \(checkpoint replication\), not mode "ft"/],
        [{ guest: 'spin', mode: 'single', checkpointCompress: true }, /'checkpointCompress': goes with mode "checkpoint".*not mode "single"/],
        [{ guest: 'spin', mode: 'checkpoint', checkpointMs: 0 }, /'checkpointMs': expected a whole number from 1 to 3600000, got 0/],
        [{ guest: 'spin', mode: 'checkpoint', checkpointMs: 50, checkpointInstructions: 1_000_000 }, /'checkpointInstructions': .*'checkpointMs' cannot be given as well/],
        [{ guest: 'spin', mode: 'checkpoint', checkpointInstructions: 1_000_000, epochLength: 1_000_000 }, /'checkpointInstructions': sets the epoch length: leave out 'epochLength'/],
        [{ log: __filename, checkpointMs: 50 }, /'checkpointMs': does not apply to a log replay/],
        [{ guest: 'spin', detectTimeout: 5 }, /'detectTimeout': expected a whole number from 10 to 600000, got 5/],
        [{ guest: 'spin', heartbeat: 0.5 }, /'heartbeat': expected a whole number from 1 to 60000, got 0.5/],
        [{ guest: 'spin', detectTimeout: 100, heartbeat: 100 }, /'heartbeat': 100 ms must be shorter than 'detectTimeout' \(100 ms\)/],
        [{ guest: 'spin', heartbeat: 2000 }, /'heartbeat': 2000 ms must be shorter than 'detectTimeout' \(1000 ms\)/],
        [{ guest: 'spin', mode: 'single', detectTimeout: 5000 }, /'detectTimeout': goes with an FT pair/],
        [{ log: __filename, heartbeat: 100 }, /'heartbeat': does not apply to a log replay/],
        [{ guest: 'kv', hosts: 1 }, /'hosts': expected a whole number from 2 to 64, got 1/],
        [{ guest: 'kv', hosts: '3' }, /'hosts': expected a whole number from 2 to 64, got "3"/],
        [{ guest: 'kv', coordinator: 'embedded' }, /'coordinator': goes with 'hosts'/],
        [{ guest: 'kv', hosts: 3, coordinator: 'zookeeper://x:1' }, /'coordinator': expected embedded or etcd:\/\/HOST:PORT\[,HOST:PORT...\], got 'zookeeper:\/\/x:1'$/],
        [{ guest: 'kv', hosts: 3, coordinator: 'etcd://127.0.0.1' }, /'coordinator': '127.0.0.1' in 'etcd:\/\/127.0.0.1' is not HOST:PORT$/],
        [{ guest: 'kv', hosts: 3, mode: 'checkpoint' }, /'hosts': goes with mode "ft" \(a view service over replaying backups\), not mode "checkpoint"/],
        [{ guest: 'kv', hosts: 3, mode: 'single' }, /'hosts': goes with mode "ft"/],
        [{ guest: 'kv', hosts: 3, record: '/tmp/x.ftlog' }, /'record': is not supported under a view service/],
        [{ guest: 'kv', hosts: 2, coordinator: 'embedded', tap: 'tap0' }, /'tap': is not supported under a view service/],
        [{ log: __filename, hosts: 3 }, /'hosts': does not apply to a log replay/],
        [{ guest: 'spin', stopOnEntry: 1 }, /'stopOnEntry': expected true or false/],
        [{ guest: 'spin', colour: 'red' }, /'colour': unknown attribute/],
        [{ guest: 'spin', mode: 'single', record: '/tmp/x.ftlog' }, /'record': records an FT pair's log/],
        [{ guest: 'spin', record: '/no/such/dir/x.ftlog' }, /'record': cannot write/],
        [{ log: '/no/such/file.ftlog' }, /'log': cannot read \/no\/such\/file.ftlog: no such file/],
        [{ log: __filename, clock: 'host' }, /'clock': does not apply to a log replay/],
        [{ guest: 'spin', image: 'x' }, /'image': goes with 'log'/],
        [{ guest: 'spin', tapAddress: '10.0.2.1/24' }, /'tapAddress': goes with 'tap'/],
        [{ log: __filename, tap: 'tap0' }, /'tap': does not apply to a log replay/],
        // Checked by the cluster before any host starts (src/ft/cluster/tapbridge.ts), as for lockstep ft --tap.
        [{ guest: 'spin', tap: 'tap 0' }, /--tap: 'tap 0' is not an interface name/],
        [{ guest: 'spin', stopAt: -1 }, /'stopAt': expected a whole number from 0 to 9007199254740991, got -1/],
        [{ guest: 'spin', stopAt: 1.5 }, /'stopAt': expected a whole number from 0 to 9007199254740991, got 1.5/],
        [{ log: __filename, stopAt: 'end' }, /'stopAt': expected a whole number from 0 to 9007199254740991, got "end"/],
        [{ guest: 'spin', stopAt: 5, stopOnEntry: true }, /'stopAt': stops the session at instruction 5, so 'stopOnEntry' \(instruction 0\) cannot be true as well/],
        [{ guest: 'spin', cwd: '/no/such/dir' }, /'cwd': expected a directory, got "\/no\/such\/dir"/],
        // Relative paths are taken from cwd: this one is right from the repository, not from guests/.
        [{ guest: 'guests/images/spin.elf', cwd: join(__dirname, '..', '..', 'guests') }, /'guest': .*guests\/guests\/images\/spin\.elf/],
        [{ guest: BOOTSECTOR }, /'bios': .*bootsector\.img: a disk image needs a BIOS/],
        [{ guest: 'spin', initrd: __filename }, /launch attribute 'initrd' needs launch attribute 'bios'/],
        [{ guest: BOOTSECTOR, bios: '/no/such/bios.bin' }, /'bios': cannot read \/no\/such\/bios\.bin: no such file/],
        [{ guest: BOOTSECTOR, bios: __filename }, /'bios': .*dap\.test\.ts is not a BIOS ROM/],
        [{ log: __filename, bios: '/no/such/bios.bin' }, /'bios': cannot read \/no\/such\/bios\.bin: no such file/],
        [{ guest: 'spin', disks: { file: DISK } }, /'disks': expected a list, got \{/],
        [{ guest: 'spin', disks: [{ file: DISK }, { file: `${DISK}2` }] }, /'disks': a guest has one disk, got 2/],
        [{ guest: 'spin', disks: [{ file: '/no/such/disk.img' }] }, /'disks': \/no\/such\/disk\.img: no such file/],
        [{ guest: 'spin', disks: [{ file: __filename }] }, /'disks': .*dap\.test\.ts: its size, \d+ bytes, is not a whole number of 512-byte sectors/],
        [{ guest: 'spin', disks: [{ file: DISK, mode: 'mirrored' }] }, /'disks': 'mode' must be "shared" or "local", got "mirrored"/],
        [{ guest: 'spin', disks: [{ path: DISK }] }, /'disks': unknown key 'path'/],
        [{ log: __filename, disks: [{ file: DISK, mode: 'local' }] }, /'disks': 'mode' does not apply to a log replay: the log says/],
        [{ log: __filename, disks: [{ file: '/no/such/disk.img' }] }, /'disks': cannot read \/no\/such\/disk\.img: no such file/],
        [{ log: __filename, disks: [] }, /'disks': a log replay takes the one disk its recording started with, got 0/],
      ];
      for (const [args, message] of bad) {
        await assert.rejects(adapter.dc.launchRequest(args as never), message, JSON.stringify(args));
      }
      await assert.rejects(adapter.dc.launchRequest({ log: __filename } as never), /'log': .*not a Lockstep log/);
      // Nothing serves etcd on port 1 here: the launch says so (src/ft/view/etcd.ts) before any host starts.
      const unreachable = { guest: 'kv', hosts: 3, coordinator: 'etcd://127.0.0.1:1' };
      await assert.rejects(adapter.dc.launchRequest(unreachable as never), /^Error: --coordinator etcd:\/\/127\.0\.0\.1:1: cannot reach etcd \(/);
    });

    it('disks: the pair gets the disk (its reads in the panel\'s channel events); FILE is locked until the session ends', async () => {
      const guest = join(DISK, '..', 'diskguest.bin');
      writeFileSync(guest, diskGuest(20, 150_000));
      // A session of its own: this one ends here, and the others go on with `adapter`.
      const session = await Adapter.start();
      try {
        await session.dc.initializeRequest();
        const stop = session.nextStop();
        await session.launch({ guest, memory: 16, epochLength: 1_000_000, disks: [{ file: DISK, mode: 'shared' }], stopAt: 5_000_000 });
        assert.equal((await stop).reason, 'goto');
        assert.ok(existsSync(`${DISK}.lock`), 'FILE is locked');
        const channel = await channelEvent(session, (body) => (body.disk?.reads ?? 0) > 0);
        assert.equal(channel.disk!.bytesRead, 512 * channel.disk!.reads, 'one sector a read');
        await assert.rejects(adapter.dc.launchRequest({ guest, disks: [{ file: DISK }] } as never), /is in use by another run/);
        await session.dc.disconnectRequest({ terminateDebuggee: true });
      } finally {
        await session.stop();
      }
      await until(() => !existsSync(`${DISK}.lock`), 'the lock to go');
    });

    it('disks with mode "single": the machine writes FILE itself; going back and forth over writes leaves FILE alone; it ends as the guest alone leaves it', async () => {
      const guest = join(DISK, '..', 'diskguest-single.bin');
      writeFileSync(guest, diskGuest(8, 150_000));
      const blank = Buffer.alloc(64 * 1024);
      const [reference, file] = [join(DISK, '..', 'single-reference.img'), join(DISK, '..', 'single.img')];
      for (const path of [reference, file]) writeFileSync(path, blank);
      const alone = DiskFile.open(reference);
      const run = await runGuest({ image: loadImage(guest), epochLength: 1_000_000, memoryMiB: 16, disk: { size: alone.size, mode: 'shared', file: alone } });
      alone.close();
      const session = await Adapter.start();
      try {
        await session.dc.initializeRequest();
        const half = Math.floor(run.instructions / 2);
        const stop = session.nextStop();
        await session.launch({ guest, mode: 'single', memory: 16, epochLength: 1_000_000, disks: [{ file }], stopAt: half });
        assert.equal((await stop).reason, 'goto');
        assert.ok(existsSync(`${file}.lock`), 'FILE is locked');
        const atHalf = readFileSync(file);
        assert.ok(!atHalf.equals(blank), 'the guest has written FILE');
        assert.equal(await session.runTo(1, 1000), 1000);
        assert.ok(readFileSync(file).equals(atHalf), 'going back across writes changes nothing on FILE');
        assert.equal(await session.runTo(1, half), half);
        assert.ok(readFileSync(file).equals(atHalf), 'nor does running them again');
        assert.equal(await session.runTo(1, run.instructions - 1), run.instructions - 1);
        assert.ok(readFileSync(file).equals(readFileSync(reference)), 'FILE ends as the guest alone leaves it');
        await session.dc.disconnectRequest({ terminateDebuggee: true });
      } finally {
        await session.stop();
      }
      await until(() => !existsSync(`${file}.lock`), 'the lock to go');
    });

    it('stopAt runs a live FT pair from the start to exactly that count, both machines, and stops there', async () => {
      const stop = adapter.nextStop();
      await adapter.launch({ ...SPIN, stopAt: 7_654_321 });
      const stopped = await stop;
      assert.equal(stopped.reason, 'goto');
      assert.equal(stopped.description, 'stopAt: instruction 7,654,321');
      for (const thread of [1, 2]) assert.equal(await adapter.instructions(thread), 7_654_321, `thread ${thread}`);
      assert.equal((await adapter.scope(1, 'Clock'))['last stop'], 'exact at 7,654,321');
    });
  });

  describe('checkpoint replication (launch mode "checkpoint")', () => {
    let adapter: Adapter;
    before(async () => {
      adapter = await Adapter.start();
      // Epochs far apart: the checkpoints come at the epochs the 25 ms interval makes at the loop's batch ends.
      const launch = { cmdline: 'iterations=2000000000 hz=1000', epochLength: 1_000_000_000, stopOnEntry: true };
      await adapter.launch({ ...SPIN, ...launch, mode: 'checkpoint', checkpointMs: 25 });
    });
    after(async () => adapter?.stop());

    /** The backup thread's checkpoint line: its number and instruction count (none before its first checkpoint). */
    async function checkpointShown(): Promise<{ index: number; at: number } | undefined> {
      const line = (await adapter.scope(2, 'Clock')).checkpoint;
      const match = line && /^#([\d,]+) at instruction ([\d,]+) /.exec(line);
      return match ? { index: Number(match[1].replace(/,/g, '')), at: Number(match[2].replace(/,/g, '')) } : undefined;
    }

    /**
     * The backup's checkpoint with its count, registers and memory, read while it held that one checkpoint: one the
     * primary sent before it paused may still land in between (the reads are separate requests), and is waited for.
     */
    async function backupAtItsCheckpoint() {
      for (;;) {
        const shown = (await checkpointShown())!;
        const backup = { at: await adapter.instructions(2), registers: await adapter.scope(2, 'Registers'), memory: await adapter.read(2, 0x100000, 64 * 1024) };
        if ((await checkpointShown())?.index !== shown.index) continue;
        assert.equal(backup.at, shown.at, 'the backup is at its checkpoint\'s count');
        return { shown, backup };
      }
    }

    it('before its first checkpoint, the backup thread says it waits for one: a frame and scopes, no request failing', async () => {
      // Stopped on entry, the primary reaches no epoch's end, where it takes the backup's first (full) checkpoint.
      assert.equal((await adapter.threads())[2], 'backup (host-2)');
      const waiting = 'host-2 is waiting for its first checkpoint (the primary sends a full one when its backup attaches)';
      const trace = await adapter.dc.stackTraceRequest({ threadId: 2 });
      assert.deepEqual(trace.body.stackFrames, [{ id: 2, name: `(${waiting})`, line: 0, column: 0, presentationHint: 'label' }]);
      for (const scope of SCOPES) assert.deepEqual(await adapter.scope(2, scope), { 'nothing to show yet': waiting }, scope);
      assert.equal(await adapter.instructions(1), 0, 'the primary\'s thread shows its machine meanwhile');
    });

    it('the backup thread shows its last applied checkpoint: the primary\'s registers and memory at that count', async () => {
      await adapter.dc.continueRequest({ threadId: 1 });
      await until(async () => ((await checkpointShown())?.index ?? 0) >= 3, 'the backup to show its third checkpoint');
      const paused = await adapter.stopAfter(() => adapter.dc.pauseRequest({ threadId: 1 }));
      assert.equal(paused?.reason, 'pause');
      const { shown, backup } = await backupAtItsCheckpoint();
      assert.ok(shown.at > 0 && shown.at <= (await adapter.instructions(1)), `checkpoint at ${shown.at}`);
      assert.match((await adapter.scope(2, 'Clock')).guest, /checkpoint replication's backup holds a checkpoint/);
      // The primary's own recording takes it back to that count (time travel works in either mode).
      await adapter.runTo(1, shown.at);
      assert.equal(await adapter.instructions(1), shown.at);
      assert.deepEqual(await adapter.scope(1, 'Registers'), backup.registers);
      assert.ok((await adapter.read(1, 0x100000, 64 * 1024)).equals(backup.memory), 'the kernel\'s 64 KiB (code, spin\'s table, stack) as in the checkpoint');
      assert.equal((await checkpointShown())?.index, shown.index, 'following the primary back, the backup still shows its checkpoint');
    });

    it('the panel\'s channel events carry the mode, the latest checkpoints and the outputs held per checkpoint', async () => {
      const body = await channelEvent(adapter, (b) => (b.checkpoints?.taken ?? 0) >= 3);
      assert.equal(body.mode, 'checkpoint');
      const latest = body.checkpoints!.recent.at(-1)!;
      assert.ok(latest.index >= 3 && latest.bytes > 0 && latest.pauseMs >= 0, JSON.stringify(latest));
      assert.ok(body.checkpoints!.recent.some((r) => r.ackDelayMs !== undefined), 'some were acknowledged');
      assert.deepEqual(body.checkpoints!.held, [], 'spin makes no output');
    });

    it('the primary steps; the backup thread refuses to move, saying why', async () => {
      const at = await adapter.instructions(1);
      await adapter.step(1);
      assert.equal(await adapter.instructions(1), at + 1);
      // A step answers at once; a step refused is an exception stop that says why.
      const refused = await adapter.step(2);
      assert.equal(refused.reason, 'exception');
      assert.match(refused.description ?? '', /host-2 is checkpoint replication's backup: it runs no guest .*read-only/);
      await assert.rejects(adapter.write(2, 0x800000, Buffer.from('x')), /checkpoint replication's backup/);
    });

    it('failover: the backup goes live from its checkpoint and its thread becomes the primary, a machine of its own', async () => {
      const shown = (await checkpointShown())!;
      const stop = adapter.nextStop();
      const response = await adapter.dc.customRequest('lockstep/failover', {});
      assert.equal((response.body as { newPrimary: string }).newPrimary, 'host-2');
      assert.equal((await stop).reason, 'failover');
      assert.equal((await adapter.threads())[2], 'primary (host-2)');
      const clock = await adapter.scope(2, 'Clock');
      assert.equal(clock.checkpoint, undefined, 'a primary shows its machine, not a checkpoint');
      const here = await adapter.instructions(2);
      assert.ok(here >= shown.at, `the new primary at ${here} started from a checkpoint at ${shown.at} or later`);
      await adapter.step(2);
      assert.equal(await adapter.instructions(2), here + 1);
    });
  });

  describe('a running pair', () => {
    let adapter: Adapter;
    before(async () => {
      adapter = await Adapter.start();
      await adapter.launch({ ...SPIN, cmdline: 'iterations=2000000000 hz=1000', stopOnEntry: true });
    });
    after(async () => adapter?.stop());

    it('answers with the machine as it is now, not as it was when first asked', async () => {
      await adapter.dc.continueRequest({ threadId: 1 });
      const first = await adapter.instructions(1);
      // A state read while running is out of date at once: each request reads the machine again.
      await until(async () => (await adapter.instructions(1)) > first, 'a later read to see the primary further on');
      const paused = await adapter.stopAfter(() => adapter.dc.pauseRequest({ threadId: 1 }));
      assert.equal(paused?.reason, 'pause');
      const at = await adapter.instructions(1);
      assert.ok(at > first);
      assert.equal(await adapter.instructions(1), at, 'stopped, the machine stays put');
    });
  });

  describe('failure detection (launch attributes detectTimeout, heartbeat)', () => {
    it('the hosts take the launch\'s detection timeout: a partitioned pair suspects its peer after it, not after 1 s', async () => {
      const adapter = await Adapter.start();
      const silences: number[] = [];
      adapter.dc.on('output', (e: DebugProtocol.OutputEvent) => {
        const match = /no word from the (?:primary|backup) for (\d+) ms/.exec(e.body.output);
        if (match) silences.push(Number(match[1]));
      });
      try {
        await adapter.launch({ ...SPIN, stopOnEntry: true, detectTimeout: 4000, heartbeat: 400 });
        await adapter.dc.customRequest('lockstep/injectFault', { kind: 'partition' });
        await until(() => silences.length > 0, 'a host to suspect its peer');
        // A detector suspects only after timeoutMs of silence: with the 1 s default this would be about 1000.
        assert.ok(silences.every((ms) => ms >= 4000), `silent for ${silences.join(', ')} ms`);
      } finally {
        await adapter.stop();
      }
    });
  });

  describe('divergence and failover', () => {
    let adapter: Adapter;
    before(async () => {
      adapter = await Adapter.start();
      await adapter.launch({ ...SPIN, stopOnEntry: true });
    });
    after(async () => adapter?.stop());

    it('a memory write on the backup alone is reported as a divergence of exactly that page', async () => {
      // Pausing a running pair stops both at the live edge, where memory can be written.
      await adapter.dc.continueRequest({ threadId: 1 });
      const paused = await adapter.stopAfter(() => adapter.dc.pauseRequest({ threadId: 1 }));
      assert.equal(paused?.reason, 'pause');
      const at = await adapter.instructions(1);
      assert.equal(await adapter.instructions(2), at);
      const page = 0x800; // 8 MiB: memory spin never touches
      await adapter.write(2, page * 4096 + 16, Buffer.from('diverge!'));
      assert.deepEqual(await adapter.read(2, page * 4096 + 16, 8), Buffer.from('diverge!'));
      assert.deepEqual(await adapter.read(1, page * 4096 + 16, 8), Buffer.alloc(8), 'the primary is untouched');
      const stop = await adapter.stopAfter(() => adapter.dc.continueRequest({ threadId: 1 }));
      assert.equal(stop?.reason, 'divergence');
      const epoch = Number(/^divergence at epoch (\d+) \(instruction [\d,]+\): pages 0x800$/.exec(stop!.description!)?.[1]);
      assert.ok(epoch > 0, stop!.description);
      const events = adapter.events.get('lockstep/divergence') as { epoch: number; pages: number[]; parts: string[]; at: number }[];
      const reported = events.filter((e) => e.epoch === epoch).at(-1)!;
      assert.deepEqual(reported.pages, [page]);
      assert.deepEqual(reported.parts, []);
      assert.ok(reported.at > at);
      const view = await adapter.dc.scopesRequest({ frameId: 1 });
      const scope = view.body.scopes.find((s) => s.name === 'Divergence')!;
      const variables = await adapter.dc.variablesRequest({ variablesReference: scope.variablesReference });
      // The state stays different, so every epoch from there on differs too.
      assert.ok(Number(variables.body.variables.find((v) => v.name === 'divergences')?.value) >= 1);
    });

    it('failover makes the backup thread the primary', async () => {
      // The session is stopped: the backup has every entry the primary logged, and gets no more.
      const received = (await adapter.scope(2, 'Log position'))['last entry logged or received']; // '#N' or 'none'
      const stop = adapter.nextStop();
      const response = await adapter.dc.customRequest('lockstep/failover', {});
      assert.equal((response.body as { newPrimary: string }).newPrimary, 'host-2');
      assert.equal((await stop).reason, 'failover');
      const threads = await adapter.threads();
      assert.equal(threads[2], 'primary (host-2)');
      assert.equal(threads[1], undefined, 'the killed primary is gone');
      const failovers = (adapter.events.get('lockstep/failover') ?? []) as { newPrimary: string; generation: number; lastSeq?: number }[];
      assert.deepEqual(failovers.map((f) => [f.newPrimary, f.generation]), [['host-2', 2]]);
      assert.equal(failovers[0].lastSeq, received === 'none' ? 0 : Number(received.slice(1)), 'the event carries the log the new primary had');
      // The new primary can still be moved and looked at.
      const here = await adapter.instructions(2);
      assert.equal(await adapter.runTo(2, here - 1000), here - 1000);
    });

    it('refuses a second failover while the new backup is not attached, and keeps the primary', async () => {
      // Stopped, the new primary reaches no epoch boundary, so host-3 cannot be cloned yet.
      await assert.rejects(adapter.dc.customRequest('lockstep/failover', {}), /host-3 is not attached yet .*continue first/);
      const threads = await adapter.threads();
      assert.equal(threads[2], 'primary (host-2)');
      assert.equal((adapter.events.get('lockstep/failover') ?? []).length, 1, 'no second failover');
    });
  });

  describe('writing at the live edge', () => {
    let adapter: Adapter;
    before(async () => {
      adapter = await Adapter.start();
      await adapter.launch({ ...SPIN, cmdline: 'iterations=2000000000 hz=1000', stopOnEntry: true });
    });
    after(async () => adapter?.stop());

    it('a write at the live edge survives steps forwards and back, is absent before it, and the pair runs on', async () => {
      // Pausing a running pair stops both at the live edge (spin runs far longer than this test), past
      // the count run to first, whenever the pause arrives.
      await adapter.runTo(1, 5_000_000);
      await adapter.dc.continueRequest({ threadId: 1 });
      assert.equal((await adapter.stopAfter(() => adapter.dc.pauseRequest({ threadId: 1 })))?.reason, 'pause');
      const address = 0x801 * 4096;
      const at = await adapter.instructions(1);
      assert.ok(at >= 5_000_000);
      await adapter.write(1, address, Buffer.from('written'));
      await adapter.step(1);
      await adapter.step(1);
      assert.deepEqual(await adapter.read(1, address, 7), Buffer.from('written'), 'two steps on');
      await adapter.stepBack(1);
      assert.deepEqual(await adapter.read(1, address, 7), Buffer.from('written'), 'a step back, still after the write');
      assert.equal(await adapter.runTo(1, at - 1), at - 1);
      assert.deepEqual(await adapter.read(1, address, 7), Buffer.alloc(7), 'before the write');
      const stop = await adapter.stopAfter(() => adapter.dc.continueRequest({ threadId: 1 }));
      assert.equal(stop?.reason, 'divergence', 'the pair ran on from the write to the next epoch, where the backup differs');
      assert.ok((await adapter.instructions(1)) > at);
      assert.deepEqual(await adapter.read(1, address, 7), Buffer.from('written'), 'the run went on from the write');
    });

  });

  describe('recording and replaying a log file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-dap-'));
    const log = join(dir, 'run.ftlog');
    let live: { index: number; at: number; hash: string }[] = [];
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('records a live run to its end', async () => {
      const adapter = await Adapter.start();
      try {
        const end = adapter.nextStop();
        await adapter.launch({ guest: 'ticker', cmdline: 'hz=1000 ticks=250 every=50', epochLength: 10_000_000, memory: 16, record: log });
        const stop = await end;
        assert.equal(stop.reason, 'end');
        live = await adapter.epochs(1);
        assert.ok(live.length >= 2, `${live.length} epochs`);
        assert.deepEqual(await adapter.epochs(2), live, 'the backup computed the same hashes');
        assert.ok((adapter.events.get('lockstep/entries') ?? []).length > 0, 'entries were streamed');
      } finally {
        await adapter.stop();
      }
      assert.ok(existsSync(log));
    });

    it('a log-file launch replays to the same epoch hashes as the live run', async () => {
      const adapter = await Adapter.start();
      try {
        const entry = await adapter.launch({ log, stopOnEntry: true });
        assert.equal(entry?.reason, 'entry');
        assert.deepEqual(Object.values(await adapter.threads()), ['replay: replay of ticker']);
        // The panel is filled from the file before the first stop: its entries, outputs and charts.
        const file = await readLogFile(log);
        const sent = (name: string) => (adapter.events.get(name) ?? []) as never[];
        const seqs = sent('lockstep/entries').flatMap((b: EntriesEventBody) => b.entries.map((e) => e.seq));
        assert.deepEqual(seqs, file.entries.map((e) => e.seq));
        const outputs = sent('lockstep/output') as OutputEventBody[];
        assert.deepEqual(outputs.map((o) => [o.seq, o.state]), file.entries.filter((e) => e.kind === 'output').map((e) => [e.seq, 'released']));
        const times = (sent('lockstep/channel') as ChannelEventBody[]).map((c) => c.time);
        assert.equal(times.at(-1), file.entries.at(-1)!.at / file.meta.instructionsPerMs!, 'the charts span the recording (virtual clock: its recorded rate)');
        assert.ok(times.length >= 2 && times[0] < times.at(-1)!, JSON.stringify(times));
        const end = await adapter.stopAfter(() => adapter.dc.continueRequest({ threadId: 1 }));
        assert.equal(end.reason, 'end');
        assert.deepEqual(await adapter.epochs(1), live);
        const divergence = await adapter.scope(1, 'Divergence');
        assert.match(divergence['last compared epoch'], /: equal$/);
        // Reverse execution works on a replay too.
        const back = await adapter.runTo(1, 12_345);
        assert.ok(back <= 12_345);
        const entries = await adapter.dc.customRequest('lockstep/logEntries', { from: 1, count: 3, filter: ['epoch'] });
        assert.equal((entries.body as { entries: unknown[] }).entries.length, 3);
        // The recording was closed: its end entry is listed, last.
        const ending = await adapter.dc.customRequest('lockstep/logEntries', { from: 1, count: 10, filter: ['end'] });
        const ends = (ending.body as { entries: { kind: string; text: string }[] }).entries;
        assert.deepEqual(ends.map((e) => e.kind), ['end']);
        assert.match(ends[0].text, / end closed ""$/);
      } finally {
        await adapter.stop();
      }
    });

    it('stopAt replays a log file from the start to exactly that count and stops there', async () => {
      const at = live[1].at; // the second epoch boundary of the recording
      const adapter = await Adapter.start();
      try {
        const stop = adapter.nextStop();
        await adapter.launch({ log, stopAt: at });
        const stopped = await stop;
        assert.equal(stopped.reason, 'goto');
        assert.equal(stopped.description, `stopAt: instruction ${at.toLocaleString('en-US')}`);
        assert.equal(await adapter.instructions(1), at);
        assert.equal((await adapter.scope(1, 'Clock'))['last stop'], `exact at ${at.toLocaleString('en-US')}`);
      } finally {
        await adapter.stop();
      }
    });
  });
});
