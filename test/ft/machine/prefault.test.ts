import { strict as assert } from 'node:assert';
import { needsPrefault, PAGE_SIZE, prefault } from '../../../src/ft/machine';
import { ResidentPages } from '../../../src/ft/machine/residentpages';

const MIB = 1024 * 1024;

/** How many pages of `memory` the OS has mapped (Linux's page map). */
function mappedPages(memory: WebAssembly.Memory): number {
  const resident = ResidentPages.of(memory);
  assert.ok(resident, 'the page map of a wasm memory is found');
  try {
    return resident.mayBeNonZero(0, memory.buffer.byteLength).reduce((n, p) => n + p, 0);
  } finally {
    resident.close();
  }
}

describe('prefault (guest RAM mapped before the detector starts, only where a first-touch burst could matter)', () => {
  it('a 32 MiB guest is not mapped under the default 1 s timeout; 64 MiB is, and 256 MiB under the 4 s one too', () => {
    assert.equal(needsPrefault(32 * MIB, 1000), false);
    assert.equal(needsPrefault(64 * MIB, 1000), true);
    assert.equal(needsPrefault(256 * MIB, 4000), true);
    assert.equal(needsPrefault(32 * MIB, 500), true, 'a shorter timeout maps a smaller guest');
  });

  describe("pages mapped (Linux's /proc/self/pagemap)", function () {
    before(function () {
      if (process.platform !== 'linux' || process.arch !== 'x64') this.skip();
    });

    // Sizes no other memory here has (a fully mapped one leaves no page to tell same-sized ones apart by).
    // ResidentPages maps one page to find the memory.
    const fresh = (wasmPages: number) => new WebAssembly.Memory({ initial: wasmPages });

    it('maps every page, changing no byte, when the timeout is short for the size', () => {
      const memory = fresh(72);
      const ram = new Uint8Array(memory.buffer);
      ram[5 * PAGE_SIZE] = 7;
      assert.equal(prefault(ram, 1), true);
      assert.equal(mappedPages(memory), ram.length / PAGE_SIZE);
      assert.equal(ram[5 * PAGE_SIZE], 7);
      assert.equal(ram.reduce((n, b) => n + b, 0), 7, 'every other byte still zero');
    });

    it('maps nothing when a burst of all its pages stays far below the timeout', () => {
      const memory = fresh(76);
      const ram = new Uint8Array(memory.buffer);
      assert.equal(prefault(ram, 1000), false);
      assert.ok(mappedPages(memory) <= 1, 'at most the page the page map probe read');
    });
  });
});
