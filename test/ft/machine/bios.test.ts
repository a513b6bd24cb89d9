// The BIOS boot path: a non-multiboot image (guests/images/bootsector.img, a 512-byte boot sector)
// booted by Debian's SeaBIOS in the deterministic machine. Skipped, saying how to install it, when
// the BIOS files are missing.
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { imagesDir, loadImage } from '../../../src/ft/machine';
import { RunResult, runGuest } from '../../../src/ft/commands';
import { SEABIOS, VGABIOS, skipWithoutBios } from '../../support/bios';

const EPOCH = 1_000_000;
const HELLO = 'bootsector: hello from the BIOS boot path drive=80\n';

describe('BIOS boot path (SeaBIOS)', function () {
  this.timeout(60_000);
  const image = () => loadImage(join(imagesDir(), 'bootsector.img'));
  const boot = (extra: { jit?: boolean; cloneAt?: number } = {}): Promise<RunResult> =>
    runGuest({
      image: image(),
      epochLength: EPOCH,
      maxInstructions: 500_000_000,
      bios: { bios: readFileSync(SEABIOS), vgaBios: readFileSync(VGABIOS) },
      ...extra,
    });

  it('the boot sector is a disk image (boot signature, no multiboot header)', () => {
    const bootsector = image();
    assert.equal(bootsector.kind, 'disk');
    assert.equal(bootsector.bytes.length, 512);
  });

  it('boots the boot sector, which prints on COM1 and halts; two runs are identical', async function () {
    skipWithoutBios(this);
    const first = await boot();
    const second = await boot();
    assert.equal(first.serial, HELLO);
    assert.equal(first.end, 'halted', 'the guest ends with cli; hlt');
    assert.ok(first.epochHashes.length >= 3, `SeaBIOS runs through several epochs (${first.epochHashes.length})`);
    assert.deepEqual(second.epochHashes, first.epochHashes, 'epoch hashes differ between two runs');
    assert.equal(second.instructions, first.instructions);
    assert.equal(second.stateHash, first.stateHash);
    assert.equal(second.serial, first.serial);
  });

  it('JIT off boots it too', async function () {
    skipWithoutBios(this);
    const result = await boot({ jit: false });
    assert.equal(result.serial, HELLO);
    assert.equal(result.end, 'halted');
  });

  // Known bug, left for the machine's owners (src/ft/machine/machine.ts): v86 keeps the byte of port 0x92
  // (System Control Port A, "fast A20") in a closure in CPU.init, outside save_state and outside our
  // hashes. A machine restored from a snapshot reads 0 there where the original reads 2, so SeaBIOS
  // takes another path: the epochs after the clone differ. Enable this test when the machine owns
  // port 0x92 (handlers on a field of its own, carried in the snapshot header and hashed).
  it('a clone taken during the BIOS boot continues identically (port 0x92 is carried in snapshots)', async function () {
    skipWithoutBios(this);
    const unstopped = await boot();
    const cloned = await boot({ cloneAt: unstopped.epochs[1].at });
    assert.deepEqual(cloned.epochHashes, unstopped.epochHashes);
    assert.equal(cloned.stateHash, unstopped.stateHash);
  });
});
