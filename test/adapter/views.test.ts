// What the debugger shows, through DAP on a real FT pair running kv: every stop's top frame has a
// source VS Code can open (so it selects the frame), the disassembly above the current instruction
// decodes in step with true instruction boundaries, the same at every stop, and the labels read well.
import { strict as assert } from 'node:assert';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { ChannelEventBody } from '../../src/adapter/protocol';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import { serveTcp, serverPort } from '../../src/adapter/server';
import { Adapter, channelEvent } from './support';
import { until } from '../support/cluster';

/** kv's multiboot entry: `cli`, right after the multiboot header. */
const ENTRY = 0x0010000c;

type Row = DebugProtocol.DisassembledInstruction;

/** The top frame of thread 1, checked against its source: line `frame.line` is the current instruction. */
async function checkFrame(adapter: Adapter, what: string): Promise<void> {
  const [frame] = (await adapter.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames;
  const reference = frame.source?.sourceReference;
  assert.ok(reference, `${what}: the top frame has a source`);
  const response = await adapter.dc.send('source', { source: frame.source, sourceReference: reference });
  const line = (response as DebugProtocol.SourceResponse).body.content.split('\n')[frame.line - 1];
  const eip = frame.instructionPointerReference!;
  assert.ok(line?.startsWith(eip), `${what}: line ${frame.line} is ${JSON.stringify(line)}, EIP ${eip}`);
  const instruction = frame.name.split(/\s+/).slice(1).join(' ');
  assert.ok(line.endsWith(instruction), `${what}: the line shows the frame's instruction (${frame.name})`);
}

async function disassemble(adapter: Adapter, at: number | string, offset: number, count: number): Promise<Row[]> {
  const memoryReference = typeof at === 'string' ? at : `0x${at.toString(16).padStart(8, '0')}`;
  const args = { memoryReference, instructionOffset: offset, instructionCount: count };
  const response = await adapter.dc.send('disassemble', args);
  return (response as DebugProtocol.DisassembleResponse).body!.instructions;
}

describe('what the debugger shows (DAP, real hosts, kv)', function () {
  this.timeout(120_000);
  let adapter: Adapter;
  before(async () => {
    adapter = await Adapter.start();
    await adapter.launch({ guest: 'kv', stopOnEntry: true });
  });
  after(async () => adapter?.stop());

  it('every stop selects a frame with a source whose line is the current instruction', async () => {
    await checkFrame(adapter, 'entry');
    await adapter.step(1);
    await checkFrame(adapter, 'step');
    await adapter.dc.continueRequest({ threadId: 1 });
    assert.equal((await adapter.stopAfter(() => adapter.dc.pauseRequest({ threadId: 1 }))).reason, 'pause');
    await checkFrame(adapter, 'pause');
    await adapter.stopAfter(() => adapter.runTo(1, 2_000));
    await checkFrame(adapter, 'goto');
    assert.equal((await adapter.stopAfter(() => adapter.dc.send('reverseContinue', { threadId: 1 }))).reason, 'start');
    await checkFrame(adapter, 'reverse continue');
  });

  it('shows the entry `cli` as its own instruction, and the same rows above the current one at two stops', async () => {
    await adapter.runTo(1, 0);
    assert.equal(await adapter.eip(1), ENTRY);
    const atEntry = await disassemble(adapter, ENTRY, -30, 40);
    assert.equal(atEntry.length, 40);
    assert.equal(atEntry[30].address, '0x0010000c');
    assert.equal(atEntry[30].instruction, 'cli');
    assert.ok(atEntry.slice(0, 30).every((r) => r.instruction !== '??'), 'the bytes before the entry can be read');
    await adapter.runTo(1, 20);
    const eip = await adapter.eip(1);
    const later = await disassemble(adapter, eip, -30, 40);
    assert.equal(Number(later[30].address), eip, 'the current instruction is in view');
    const above = (rows: Row[]) =>
      rows.filter((r) => Number(r.address) <= ENTRY).map((r) => `${r.address} ${r.instruction}`);
    const shared = above(later);
    assert.ok(shared.length >= 5, `rows at or above the entry at instruction 20 (EIP 0x${eip.toString(16)})`);
    assert.deepEqual(shared, above(atEntry).slice(-shared.length));
    // Wherever a request starts, a row is the same.
    const rows = await disassemble(adapter, later[10].address, -5, 20);
    assert.deepEqual(rows.map((r) => r.address), later.slice(5, 25).map((r) => r.address));
  });

  it('answers an empty memory reference with no rows', async () => {
    assert.deepEqual(await disassemble(adapter, '', -10, 20), []);
  });

  it('labels: short thread names, grouped counts, a stopped guest not running, console errors, assignments', async () => {
    assert.deepEqual(await adapter.threads(), { 1: 'primary (host-1)', 2: 'backup (host-2)' });
    const stop = await adapter.stopAfter(() => adapter.runTo(1, 2_000));
    assert.equal(stop.description, 'instruction 2,000');
    const clock = await adapter.scope(1, 'Clock');
    assert.equal(clock.instructions, '2,000');
    assert.equal(clock['last stop'], 'exact at 2,000');
    assert.match(clock.guest, /^(stopped by the debugger \(not halted\)|halted \(waiting for an interrupt\))$/);
    // An evaluation's error is for the console, not a notification as well.
    for (const expression of ['[0x10', 'nosuch', 'ax = 1']) {
      const failed = await adapter.response('evaluate', { expression, context: 'repl', frameId: 1 });
      assert.equal(failed.success, false, expression);
      assert.ok(failed.message, expression);
      assert.equal((failed.body as DebugProtocol.ErrorResponse['body']).error?.showUser, false, expression);
    }
    // Registers are written at the live edge: a paused run is there.
    await adapter.dc.continueRequest({ threadId: 1 });
    await adapter.stopAfter(() => adapter.dc.pauseRequest({ threadId: 1 }));
    const assigned = await adapter.dc.evaluateRequest({ expression: 'eax = 2ah + 1', context: 'repl', frameId: 1 });
    assert.equal(assigned.body.result, 'eax = 0x0000002b');
    const eax = await adapter.dc.evaluateRequest({ expression: 'eax', context: 'repl', frameId: 1 });
    assert.equal(eax.body.result.split(' ')[0], '0x0000002b');
    const refused = adapter.dc.evaluateRequest({ expression: 'ax = 1', context: 'repl', frameId: 1 });
    await assert.rejects(refused, /only eax, .*edi, eip can be assigned here; memory is written in the Memory view/);
  });

  it('channel events keep the live progress when the debugger goes back, and lag is never negative', async () => {
    // At the live edge (the labels test paused there), then back to instruction 1,000.
    const live = await adapter.instructions(1);
    await adapter.stopAfter(() => adapter.runTo(1, 1_000));
    const looking = (c: ChannelEventBody) => c.hosts.some((h) => h.id === 'host-1' && h.debuggerAt === 1_000);
    const channel = await channelEvent(adapter, looking);
    const primary = channel.hosts.find((h) => h.id === 'host-1')!;
    assert.ok(primary.instructions >= live, `live progress ${primary.instructions} (live edge ${live})`);
    assert.ok(channel.lag >= 0, `lag ${channel.lag}`);
  });
});

async function register(adapter: Adapter, name: string): Promise<number> {
  return Number((await adapter.dc.evaluateRequest({ expression: name, context: 'repl', frameId: 1 })).body.result.split(' ')[0]);
}

async function dataBreakpointInfo(adapter: Adapter, args: object): Promise<DebugProtocol.DataBreakpointInfoResponse['body']> {
  return ((await adapter.dc.send('dataBreakpointInfo', args)) as DebugProtocol.DataBreakpointInfoResponse).body;
}

describe('data breakpoints (DAP, real hosts, spin)', function () {
  this.timeout(120_000);
  let adapter: Adapter;
  before(async () => {
    adapter = await Adapter.start();
    const spin = { guest: 'spin', cmdline: 'iterations=20000000 hz=1000', epochLength: 10_000_000, memory: 16 };
    await adapter.launch({ ...spin, stopOnEntry: true });
  });
  after(async () => adapter?.stop());

  it('stop right after the write that changes watched memory, forwards and backwards, both machines', async () => {
    await adapter.runTo(1, 1_000_000);
    const esp = await register(adapter, 'esp');
    // The 64 bytes below the stack pointer: interrupts push their frames there.
    const { dataId } = await dataBreakpointInfo(adapter, { name: `0x${(esp - 64).toString(16)}`, asAddress: true, bytes: 64 });
    assert.equal(dataId, `0x${(esp - 64).toString(16).padStart(8, '0')}:64`);
    const set = await adapter.dc.send('setDataBreakpoints', { breakpoints: [{ dataId, accessType: 'write' }] });
    assert.equal((set as DebugProtocol.SetDataBreakpointsResponse).body.breakpoints[0].verified, true);
    const before = await adapter.read(1, esp - 64, 64);

    const forward = await adapter.stopAfter(() => adapter.dc.continueRequest({ threadId: 1 }));
    assert.equal(forward.reason, 'data breakpoint');
    const at = await adapter.instructions(1);
    assert.equal(await adapter.instructions(2), at, 'the backup stopped at the same count');
    const written = await adapter.read(1, esp - 64, 64);
    assert.notDeepEqual(written, before);
    await adapter.runTo(1, at - 1);
    assert.deepEqual(await adapter.read(1, esp - 64, 64), before, 'unchanged until the instruction before the stop');

    await adapter.runTo(1, at + 2_000_000);
    const backward = await adapter.stopAfter(() => adapter.dc.send('reverseContinue', { threadId: 1 }));
    assert.equal(backward.reason, 'data breakpoint');
    const last = await adapter.instructions(1);
    assert.ok(last >= at && last < at + 2_000_000, `the last write before ${at + 2_000_000} is at ${last}`);
    const after = await adapter.read(1, esp - 64, 64);
    await adapter.runTo(1, last - 1);
    assert.notDeepEqual(await adapter.read(1, esp - 64, 64), after, `the instruction before ${last} wrote`);
    await adapter.dc.send('setDataBreakpoints', { breakpoints: [] });
  });

  it('offers a data breakpoint for memory expressions and registers, and refuses reads', async () => {
    const memory = await dataBreakpointInfo(adapter, { name: 'word [esp+2]', frameId: 1 });
    const esp = await register(adapter, 'esp');
    assert.equal(memory.dataId, `0x${(esp + 2).toString(16).padStart(8, '0')}:2`);
    const pointer = await dataBreakpointInfo(adapter, { name: 'esp', frameId: 1 });
    assert.equal(pointer.dataId, `0x${esp.toString(16).padStart(8, '0')}:4`);
    assert.equal((await dataBreakpointInfo(adapter, { name: 'nosuch', frameId: 1 })).dataId, null);
    const read = await adapter.dc.send('setDataBreakpoints', { breakpoints: [{ dataId: pointer.dataId, accessType: 'read' }] });
    assert.equal((read as DebugProtocol.SetDataBreakpointsResponse).body.breakpoints[0].verified, false);
    const refused = adapter.dc.send('setDataBreakpoints', { breakpoints: [{ dataId: 'esp' }] });
    await assert.rejects(refused, /dataId must be one dataBreakpointInfo gave/);
  });

  it('the console sets, lists and drops its own data breakpoints, which the client\'s list leaves alone', async () => {
    const repl = async (expression: string) => (await adapter.dc.evaluateRequest({ expression, context: 'repl', frameId: 1 })).body.result;
    // Where the first change below esp happens after 1,000,000 (as the test above finds it, with the client's list).
    await adapter.runTo(1, 1_000_000);
    const esp = await register(adapter, 'esp');
    const { dataId } = await dataBreakpointInfo(adapter, { name: `0x${(esp - 64).toString(16)}`, asAddress: true, bytes: 64 });
    await adapter.dc.send('setDataBreakpoints', { breakpoints: [{ dataId, accessType: 'write' }] });
    const before = await adapter.read(1, esp - 64, 64);
    await adapter.stopAfter(() => adapter.dc.continueRequest({ threadId: 1 }));
    const at = await adapter.instructions(1);
    const changed = esp - 64 + (await adapter.read(1, esp - 64, 64)).findIndex((byte, i) => byte !== before[i]);
    await adapter.dc.send('setDataBreakpoints', { breakpoints: [] });
    await adapter.runTo(1, 1_000_000);
    // The same byte, watched from the console: the first change of it is that stop.
    assert.equal(await repl('.watch'), 'no data breakpoints (.watch EXPR sets one)');
    const watched = `0x${changed.toString(16).padStart(8, '0')}`;
    assert.equal(await repl(`watch byte [${watched}]`), `watching 1 byte at ${watched}: continue and reverse continue stop where they change`);
    // The client's list (empty here) replaces only its own.
    await adapter.dc.send('setDataBreakpoints', { breakpoints: [] });
    assert.equal(await repl('.watch'), `1 byte at ${watched} (console)`);
    const stop = await adapter.stopAfter(() => adapter.dc.continueRequest({ threadId: 1 }));
    assert.deepEqual([stop.reason, await adapter.instructions(1)], ['data breakpoint', at]);
    await assert.rejects(adapter.dc.evaluateRequest({ expression: '.unwatch all', context: 'repl', frameId: 1 }), /\.unwatch takes nothing/);
    assert.equal(await repl('.unwatch'), '1 data breakpoint dropped');
    assert.equal(await repl('.watch'), 'no data breakpoints (.watch EXPR sets one)');
    await assert.rejects(adapter.dc.evaluateRequest({ expression: '.watch nosuch', context: 'repl', frameId: 1 }), /nosuch/);
  });
});

describe('a data breakpoint on the idle kv guest at 350 instructions a µs (launch attribute clockRate)', function () {
  this.timeout(120_000);
  let adapter: Adapter;
  let client: Socket;
  let received = '';
  before(async () => {
    adapter = await Adapter.start();
    await adapter.launch({ guest: 'kv', clockRate: 350, stopOnEntry: true });
    const service = await adapter.dc.customRequest('lockstep/service', {});
    const { address } = service.body as { address: { host: string; port: number } };
    client = connect(address.port, address.host);
    client.on('data', (chunk) => { received += chunk.toString('latin1'); });
    await once(client, 'connect');
  });
  after(async () => {
    client?.destroy();
    await adapter?.stop();
  });

  it('stops right after kv stores a value typed while it idles (it never stopped: the search looped in an idle skip)', async () => {
    await adapter.dc.continueRequest({ threadId: 1 });
    client.write('1 1 PUT a 1\n');
    await until(async () => received.includes('1 1 OK'), 'kv to store a');
    await adapter.stopAfter(() => adapter.dc.pauseRequest({ threadId: 1 }));
    // kv's entry for a (client, seq, key, ...), found in the primary's memory.
    const memory = await adapter.read(1, 0x100000, 0x100000);
    const entry = 0x100000 + memory.indexOf(Buffer.concat([Buffer.from([1, 0, 0, 0, 1, 0, 0, 0]), Buffer.from('a')]));
    assert.ok(entry >= 0x100000, 'kv\'s entry for a is in memory');
    const { dataId } = await dataBreakpointInfo(adapter, { name: `0x${entry.toString(16)}`, asAddress: true, bytes: 64 });
    await adapter.dc.send('setDataBreakpoints', { breakpoints: [{ dataId, accessType: 'write' }] });
    const before = await adapter.read(1, entry, 64);
    const from = await adapter.instructions(1);
    const stopped = adapter.nextStop();
    await adapter.dc.continueRequest({ threadId: 1 });
    // The search runs on through kv's idle time (the debugger's turns every few M instructions) before the input.
    await channelEvent(adapter, (c) => c.hosts.some((h) => h.id === 'host-1' && h.instructions > from + 20_000_000));
    client.write('2 2 PUT a 2\n');
    assert.equal((await stopped).reason, 'data breakpoint');
    assert.notDeepEqual(await adapter.read(1, entry, 64), before);
    assert.doesNotMatch(received, /2 2 OK/, 'kv has not answered: its reply comes after the store');
    const at = await adapter.instructions(1);
    assert.equal(await adapter.instructions(2), at, 'the backup stopped at the same count');
    await adapter.dc.send('setDataBreakpoints', { breakpoints: [] });
  });
});

describe('memory references (DAP, a single spin machine)', function () {
  this.timeout(60_000);
  // The adapter in this process, on a port, as the extension makes it: with and without a memory view.
  for (const memoryView of [true, false]) {
    const name = memoryView ? 'offers memoryReference where the client can show memory' : 'offers none where it cannot';
    it(`${name}: registers and console values`, async () => {
      const server = await serveTcp(0, { memoryView });
      const dc = new DebugClient('node', '', 'lockstep');
      try {
        await dc.start(serverPort(server));
        const entry = dc.waitForEvent('stopped');
        const launch = dc.launch({ guest: 'spin', mode: 'single', stopOnEntry: true });
        await Promise.all([dc.configurationSequence(), launch]);
        await entry;
        const scopes = await dc.scopesRequest({ frameId: 1 });
        const registers = scopes.body.scopes.find((s) => s.name === 'Registers')!;
        const { variablesReference } = registers;
        const variables = (await dc.variablesRequest({ variablesReference })).body.variables;
        const esp = variables.find((v) => v.name === 'esp')!;
        assert.equal(esp.memoryReference, memoryView ? esp.value : undefined);
        const evaluated = await dc.evaluateRequest({ expression: '[esp]', context: 'repl', frameId: 1 });
        assert.equal(evaluated.body.memoryReference !== undefined, memoryView);
      } finally {
        await dc.stop();
        server.close();
      }
    });
  }
});
