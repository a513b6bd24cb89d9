// The debugger's memory view under paging (docs/debugging.md, "Addresses under paging"): addresses
// are linear, translated through the stopped machine's own page tables (CR3), and a read stops at
// the first page that is not present. The pager guest (guests/pager) identity-maps its first 4 MiB
// and maps a window at 0x40000000 page by page as it touches it, from physical 4 MiB up, so at the
// stop right after one of its page faults the faulting page (CR2) is not mapped yet and the one
// before it is the pass's previous page.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import type { DebugResult } from '../../../src/ft/cluster';
import { MachineDebugger } from '../../../src/ft/debug';
import { imagesDir, loadImage, Machine, Recorder } from '../../../src/ft/machine';

const WINDOW = 0x40000000;
const POOL = 0x400000;
const PAGE = 4096;

function bytesOf(result: DebugResult): { data: Buffer; unreadable: number } {
  assert.equal(result.kind, 'bytes');
  return { data: Buffer.from(result.data, 'base64'), unreadable: result.unreadable };
}

describe('the debugger reads linear addresses through the guest\'s page tables (guests/pager)', function () {
  this.timeout(300_000);
  let debug: MachineDebugger;
  let machine: Machine;

  before(async () => {
    machine = await Machine.create({
      image: loadImage(join(imagesDir(), 'pager.elf')), cmdline: 'passes=3 pages=256', epochLength: 1_000_000,
      nondet: new Recorder(() => {}),
    });
    debug = new MachineDebugger(machine, new Recorder(() => {}));
    await debug.execute({ op: 'runTo', at: Number.MAX_SAFE_INTEGER });
    assert.ok(machine.isEnded, 'pager ends by itself');
  });

  after(() => machine.destroy());

  it('maps identity memory and window pages as the page tables say, and stops a read at an unmapped page', async () => {
    const timeline = debug.timeline;
    const faults = [...timeline.slices()].flatMap((s) => s.exits).filter((e) => e.next !== e.eip);
    const exit = faults[3];
    assert.ok(exit, 'a page fault in compiled code');
    await debug.execute({ op: 'runTo', at: exit.at });
    const { cr0, cr2 } = machine.registers;
    assert.ok(cr0 & 0x80000000, 'paging on');
    const page = (cr2 & ~(PAGE - 1)) >>> 0;
    const index = (page - WINDOW) / PAGE;
    assert.ok(index >= 1 && index < 256, `the fault is in the window, past its first page: 0x${cr2.toString(16)}`);

    // The identity-mapped kernel (loaded at 1 MiB): linear = physical.
    assert.deepEqual(bytesOf(await debug.execute({ op: 'read', address: 0x100000, length: 64 })),
      { data: Buffer.from(machine.readPhysical(0x100000, 64)), unreadable: 0 });
    // The window's previous page is the pass's previous pool page; the faulting one is not mapped yet.
    const previous = POOL + (index - 1) * PAGE;
    const across = bytesOf(await debug.execute({ op: 'read', address: page - 16, length: 48 }));
    assert.deepEqual(across, { data: Buffer.from(machine.readPhysical(previous + PAGE - 16, 16)), unreadable: 32 });
    assert.deepEqual(bytesOf(await debug.execute({ op: 'read', address: page, length: 16 })), { data: Buffer.alloc(0), unreadable: 16 });
  });
});
