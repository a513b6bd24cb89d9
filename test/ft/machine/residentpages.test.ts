import { strict as assert } from 'node:assert';
import { PAGE_SIZE } from '../../../src/ft/machine';
import { ResidentPages } from '../../../src/ft/machine/residentpages';

const WASM_PAGES = 64; // 4 MiB each

/** Memories of one size, so that only probing tells their mappings apart; page `written[i]` of memory i is written. */
function memories(written: number[]): WebAssembly.Memory[] {
  return written.map((page) => {
    const memory = new WebAssembly.Memory({ initial: WASM_PAGES });
    new Uint8Array(memory.buffer)[page * PAGE_SIZE + 1] = 1;
    return memory;
  });
}

describe("pages the OS never mapped (residentpages.ts, Linux's /proc/self/pagemap)", function () {
  before(function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
  });

  it('tells each of several memories of the same size apart, and says which of its pages may hold data', () => {
    const written = [3, 10, 700];
    const all = memories(written);
    const size = WASM_PAGES * 65536;
    all.forEach((memory, i) => {
      const resident = ResidentPages.of(memory);
      assert.ok(resident, 'the page map of a wasm memory is found');
      try {
        const pages = resident.mayBeNonZero(0, size);
        assert.equal(pages[written[i]], 1, `memory ${i}: its written page ${written[i]}`);
        for (const other of written.filter((_, j) => j !== i)) assert.equal(pages[other], 0, `memory ${i}: page ${other}, written in another memory`);
        assert.ok(pages.reduce((n, p) => n + (p ? 0 : 1), 0) > size / PAGE_SIZE / 2, 'most pages never mapped');
      } finally {
        resident.close();
      }
    });
  });

  it('pages that do not start on an OS page: either OS page under one makes it count', () => {
    const [memory] = memories([20]);
    const resident = ResidentPages.of(memory)!;
    try {
      const pages = resident.mayBeNonZero(PAGE_SIZE / 2, 40 * PAGE_SIZE);
      assert.deepEqual([18, 19, 20, 21].map((p) => pages[p]), [0, 1, 1, 0]);
    } finally {
      resident.close();
    }
  });

  it('a page only read (the shared zero page mapped) counts as possibly holding data, as a page in RAM', () => {
    const [memory] = memories([0]);
    const resident = ResidentPages.of(memory)!;
    try {
      assert.equal(resident.mayBeNonZero(30 * PAGE_SIZE, PAGE_SIZE)[0], 0);
      assert.equal(new Uint8Array(memory.buffer)[30 * PAGE_SIZE], 0);
      assert.equal(resident.mayBeNonZero(30 * PAGE_SIZE, PAGE_SIZE)[0], 1);
    } finally {
      resident.close();
    }
  });
});
