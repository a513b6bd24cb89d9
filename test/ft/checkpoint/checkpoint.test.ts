import { strict as assert } from 'node:assert';
import {
  CheckpointError,
  Checkpointer,
  CheckpointStore,
  decodeCheckpoint,
  encodeCheckpoint,
  xorRleDecode,
  xorRleEncode,
  type CheckpointChunk,
} from '../../../src/ft/checkpoint';
import { CHECKPOINT_CHUNK } from '../../../src/ft/channel';
import { loadImage, Machine, Recorder, Replayer, type Epoch } from '../../../src/ft/machine';
import { SeededRandom } from '../../../src/ft/random';
import { TEST_EPOCH } from '../../support/guests';

function sameBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  assert.ok(Buffer.from(actual).equals(Buffer.from(expected)), `${what}: ${actual.length} bytes, expected ${expected.length}, differ`);
}

/** The chunks a primary would send for `bytes`, logged at `seq`. */
function chunksOf(bytes: Uint8Array, seq: number, at: number): CheckpointChunk[] {
  const total = Math.max(1, Math.ceil(bytes.length / CHECKPOINT_CHUNK));
  return Array.from({ length: total }, (_, index) => {
    const data = bytes.slice(index * CHECKPOINT_CHUNK, (index + 1) * CHECKPOINT_CHUNK);
    return { seq, at, index, total, data };
  });
}

function deliver(store: CheckpointStore, chunks: CheckpointChunk[]) {
  let held;
  for (const chunk of chunks) held = store.receive(chunk);
  return held;
}

/** A spin guest (timer interrupts, no input) that checkpoints at every epoch, as the primary does. */
async function spinMachine(): Promise<{ machine: Machine; epochs: Epoch[] }> {
  const machine = await Machine.create({ image: loadImage('spin'), cmdline: 'iterations=3000000 hz=1000', memoryMiB: 16, epochLength: TEST_EPOCH, nondet: new Recorder(() => undefined) });
  const epochs: Epoch[] = [];
  machine.on({ epoch: (epoch) => epochs.push(epoch) });
  return { machine, epochs };
}

describe('checkpoint replication (src/ft/checkpoint)', function () {
  this.timeout(300_000);

  describe('XOR + run-length page compression', () => {
    it('round-trips pages changed in runs, scattered, wholly, or not at all', () => {
      const random = new SeededRandom(20);
      const previous = Uint8Array.from({ length: 4096 }, () => Math.floor(random.next() * 256));
      const cases: Record<string, (page: Uint8Array) => void> = {
        unchanged: () => undefined,
        'one run': (page) => page.fill(7, 100, 300),
        scattered: (page) => { for (let i = 0; i < 4096; i += 97) page[i] ^= 0x5a; },
        whole: (page) => page.forEach((_, i) => { page[i] = previous[i] ^ 0xff; }),
      };
      for (const [name, change] of Object.entries(cases)) {
        const page = previous.slice();
        change(page);
        const encoded = xorRleEncode(page, previous);
        assert.deepEqual(xorRleDecode(encoded, previous), page, name);
        if (name === 'unchanged') assert.ok(encoded.length <= 4, `an unchanged page encodes to ${encoded.length} bytes`);
      }
    });

    it('refuses an encoding that does not cover the page exactly', () => {
      const previous = new Uint8Array(4096);
      const encoded = xorRleEncode(previous.slice().fill(1, 0, 10), previous);
      assert.throws(() => xorRleDecode(encoded.subarray(0, encoded.length - 1), previous), /runs past the page|cut short/);
      assert.throws(() => xorRleDecode(encoded, new Uint8Array(8192)), /cover 4096 of the page's 8192 bytes/);
    });
  });

  describe('a store applies only complete, intact checkpoints, in turn', () => {
    for (const compress of [false, true]) {
      it(`${compress ? 'XOR+RLE' : 'raw'} pages: the store holds exactly the machine's RAM and state at each checkpoint`, async () => {
        const { machine, epochs } = await spinMachine();
        const checkpointer = new Checkpointer({ instructions: TEST_EPOCH, compress });
        const store = new CheckpointStore();
        let seq = 0;
        for (let k = 1; k <= 3; k++) {
          machine.run(k * 3 * TEST_EPOCH);
          const captured = checkpointer.capture(machine, epochs.at(-1)!.pages);
          assert.equal(captured.full, k === 1, 'the first checkpoint is the full one');
          const held = deliver(store, chunksOf(captured.bytes, ++seq, machine.instructions));
          assert.equal(held?.index, k);
          sameBytes(store.ram, machine.memory, `RAM after checkpoint ${k}`);
          sameBytes(store.state, machine.snapshot({ ram: false }), `machine state after checkpoint ${k}`);
        }
        if (compress) assert.ok(checkpointer.stats.bytesSaved > 0, 'XOR+RLE saved bytes');
        assert.ok(checkpointer.stats.recent[1].bytes < checkpointer.stats.recent[0].bytes, 'a delta is smaller than the full checkpoint');
        machine.destroy();
      });
    }

    it('a checkpoint cut off mid-transfer, damaged, or not following the one held is never applied', async () => {
      const { machine, epochs } = await spinMachine();
      const checkpointer = new Checkpointer({ instructions: TEST_EPOCH, compress: true });
      const store = new CheckpointStore();
      machine.run(3 * TEST_EPOCH);
      deliver(store, chunksOf(checkpointer.capture(machine, epochs.at(-1)!.pages).bytes, 1, machine.instructions));
      const held = { ...store.latest! };
      const ram = store.ram.slice();
      const state = store.state;
      const unchanged = (what: string) => {
        assert.deepEqual(store.latest, held, `${what}: the checkpoint held is the one before`);
        sameBytes(store.ram, ram, `${what}: RAM`);
        sameBytes(store.state, state, `${what}: machine state`);
      };
      machine.run(9 * TEST_EPOCH);
      const next = checkpointer.capture(machine, epochs.at(-1)!.pages).bytes;

      // Cut off: the last bytes never come; the next checkpoint's first chunk starts over.
      const cut = chunksOf(next.subarray(0, next.length - 10), 2, machine.instructions);
      assert.equal(deliver(store, cut.slice(0, -1)), undefined);
      unchanged('cut off, more to come');
      assert.throws(() => deliver(store, cut.slice(-1)), CheckpointError);
      unchanged('cut short');

      // Damaged: one byte flipped in the middle (the channel's CRC would catch it too: this is the checkpoint's own).
      const damaged = Uint8Array.from(next);
      damaged[Math.floor(damaged.length / 2)] ^= 0x40;
      assert.throws(() => deliver(store, chunksOf(damaged, 2, machine.instructions)), /do not match the CRC-32/);
      unchanged('damaged');

      // Out of turn: a chunk missing in the middle, and a delta on a checkpoint the store does not hold.
      assert.throws(() => deliver(store, [{ seq: 2, at: 0, index: 1, total: 2, data: next }]), /out of turn/);
      const decoded = decodeCheckpoint(next);
      assert.throws(() => deliver(store, chunksOf(encodeCheckpoint({ ...decoded, base: 5 }), 2, 0)), /changes checkpoint 5, but this store holds checkpoint 1/);
      unchanged('out of turn');
      assert.equal(store.refused, 4);

      // The intact checkpoint still applies after all that.
      assert.equal(deliver(store, chunksOf(next, 2, machine.instructions))?.index, 2);
      sameBytes(store.ram, machine.memory, 'RAM after the intact checkpoint');
      machine.destroy();
    });
  });

  it('a restore under way keeps the checkpoint it started from while the next one is applied', async () => {
    const { machine, epochs } = await spinMachine();
    const checkpointer = new Checkpointer({ instructions: TEST_EPOCH, compress: true });
    const store = new CheckpointStore();
    machine.run(3 * TEST_EPOCH);
    deliver(store, chunksOf(checkpointer.capture(machine, epochs.at(-1)!.pages).bytes, 1, machine.instructions));
    const first = { at: machine.instructions, hash: machine.currentHash() };
    // As the backup's thread view does: the restore starts an emulator (it awaits) while checkpoints keep coming.
    const restoring = Machine.restore(store.state, { image: loadImage('spin'), nondet: new Replayer() }, store.ram.slice());
    machine.run(9 * TEST_EPOCH);
    const second = checkpointer.capture(machine, epochs.at(-1)!.pages).bytes;
    assert.equal(deliver(store, chunksOf(second, 2, machine.instructions))?.index, 2);
    const restored = await restoring;
    assert.equal(restored.instructions, first.at);
    assert.equal(restored.currentHash(), first.hash, 'the machine of checkpoint 1, none of checkpoint 2 in it');
    machine.destroy();
    restored.destroy();
  });

  it('a machine restored from the store computes what the original computes from that checkpoint on', async () => {
    const { machine, epochs } = await spinMachine();
    const checkpointer = new Checkpointer({ instructions: TEST_EPOCH, compress: true });
    const store = new CheckpointStore();
    for (let k = 1; k <= 4; k++) {
      machine.run(k * 5 * TEST_EPOCH);
      deliver(store, chunksOf(checkpointer.capture(machine, epochs.at(-1)!.pages).bytes, k, machine.instructions));
    }
    const restored = await Machine.restore(store.state, { image: loadImage('spin'), nondet: new Replayer() }, store.ram);
    assert.equal(restored.instructions, machine.instructions);
    const mine: Epoch[] = [];
    restored.on({ epoch: (epoch) => mine.push(epoch) });
    const from = epochs.length;
    machine.run(2_000_000_000);
    restored.run(2_000_000_000);
    assert.ok(machine.isEnded && restored.isEnded, 'both ran spin to its end');
    assert.ok(epochs.length - from >= 2, 'several epochs after the checkpoint');
    assert.deepEqual(mine.map((e) => e.hash), epochs.slice(from).map((e) => e.hash));
    assert.equal(restored.currentHash(), machine.currentHash());
    machine.destroy();
    restored.destroy();
  });
});
