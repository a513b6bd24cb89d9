import { strict as assert } from 'node:assert';
import { differingPages, loadHasher, loadImage, Machine, PAGE_SIZE, pageHashes, Recorder, xxHash64 } from '../../../src/ft/machine';
import { PageHasher } from '../../../src/ft/machine/pagehasher';
import { SeededRandom } from '../../../src/ft/random';
import { TEST_EPOCH } from '../../support/guests';

const WASM_PAGE = 65536;
const spin = () => ({ image: loadImage('spin'), cmdline: 'iterations=100000000', nondet: new Recorder(() => {}), epochLength: TEST_EPOCH });

describe('page hashes read in place (pagehasher.ts)', () => {
  before(loadHasher);

  it('give xxHash64 (seed 0) of each 4 KiB page, as xxhash-wasm does, wherever the pages start', () => {
    const memory = new WebAssembly.Memory({ initial: 3 });
    const bytes = new Uint8Array(memory.buffer);
    const random = new SeededRandom(17);
    for (let i = 0; i < bytes.length; i++) bytes[i] = random.nextInt32() & 0xff;
    bytes.fill(0, 0, PAGE_SIZE); // a zero page
    bytes.fill(0xff, PAGE_SIZE, 2 * PAGE_SIZE); // every bit set: carries through all 64 bits of each lane
    const hasher = new PageHasher(memory);
    for (const offset of [0, 8, 5]) {
      const ram = bytes.subarray(offset, offset + 2 * WASM_PAGE);
      const inPlace = hasher.pageHashes(ram);
      assert.equal(inPlace.length, 2 * WASM_PAGE / PAGE_SIZE);
      assert.deepEqual(inPlace, pageHashes(ram), `pages starting at byte ${offset}`);
    }
    assert.equal(hasher.pageHashes(bytes.subarray(0, PAGE_SIZE))[0], xxHash64(new Uint8Array(PAGE_SIZE), 0n));
  });

  it('refuse a view of another buffer, or part of a page, saying so', () => {
    const hasher = new PageHasher(new WebAssembly.Memory({ initial: 1 }));
    assert.throws(() => hasher.pageHashes(new Uint8Array(PAGE_SIZE)), /whole pages of this wasm memory \(got 4096 bytes\)/);
    assert.throws(() => hasher.pageHashes(new Uint8Array(new WebAssembly.Memory({ initial: 1 }).buffer, 0, 100)), /got 100 bytes/);
  });

  for (const jit of [true, false]) {
    it(`a machine's epoch pages are the hashes of its RAM there, pages never mapped unread (JIT ${jit ? 'on' : 'off'})`, async () => {
      const epochs: { pages: BigUint64Array; copied: BigUint64Array; unread: number }[] = [];
      const machine = await Machine.create({ ...spin(), jit });
      try {
        // Unread pages are counted before the copy reads every page.
        machine.on({
          epoch: ({ pages }) => {
            epochs.push({ pages, unread: machine.unreadPages, copied: pageHashes(machine.memory.slice()) });
          },
        });
        machine.run(3 * TEST_EPOCH);
        assert.ok(epochs.length >= 2, `epochs reached: ${epochs.length}`);
        for (const { pages, copied } of epochs) assert.deepEqual(pages, copied);
        if (process.platform === 'linux') assert.ok(epochs[0].unread > machine.memory.length / PAGE_SIZE / 2, `pages unread: ${epochs[0].unread}`);
      } finally {
        machine.destroy();
      }
    });
  }

  it('a write from outside the guest (as a device DMA) to a page never mapped shows in its hash', async () => {
    const machine = await Machine.create(spin());
    try {
      machine.run(TEST_EPOCH);
      const last = machine.memory.length / PAGE_SIZE - 1;
      const before = machine.pageHashes();
      machine.writePhysical(last * PAGE_SIZE + 100, new Uint8Array([0x5a]));
      const after = machine.pageHashes();
      assert.deepEqual(differingPages(before, after), [last]);
      assert.deepEqual(after, pageHashes(machine.memory.slice()));
    } finally {
      machine.destroy();
    }
  });
});
