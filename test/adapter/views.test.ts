// What the debugger shows, through DAP on a real FT pair running kv: every stop's top frame has a
// source VS Code can open (so it selects the frame), the disassembly above the current instruction
// decodes in step with true instruction boundaries, the same at every stop, and the labels read well.
import { strict as assert } from 'node:assert';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { ChannelEventBody } from '../../src/adapter/protocol';
import { Adapter, channelEvent } from './support';

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
