import { strict as assert } from 'node:assert';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runGuest } from '../../../src/ft/commands';
import { DiskFile, lockDisk, loadImage, Machine, RecordedEvent, Recorder, Replayer } from '../../../src/ft/machine';
import { decodeDiskIo, SECTOR_SIZE } from '../../../src/ft/log';
import { SEABIOS, VGABIOS, skipWithoutBios } from '../../support/bios';
import { diskGuest, slaveDiskBootSector } from '../../support/rawguest';

const dir = mkdtempSync(join(tmpdir(), 'lockstep-disk-'));
const cli = (args: string[]) => promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args]);
const guestPath = join(dir, 'disk.bin');
writeFileSync(guestPath, diskGuest(3, 100_000));
const image = loadImage(guestPath);
const DISK_BYTES = 64 * 1024;

/** A fresh disk image: sector 1 holds "hello-disk-12345". */
function freshDisk(name: string): string {
  const bytes = Buffer.alloc(DISK_BYTES);
  bytes.write('hello-disk-12345', SECTOR_SIZE);
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const EXPECTED_SERIAL = 'hello-disk-12345\niello-disk-12345\njello-disk-12345\n';

async function runOn(path: string, extra: Partial<Parameters<typeof runGuest>[0]> = {}) {
  const file = DiskFile.open(path);
  try {
    return await runGuest({ image, seed: 1, epochLength: 100_000, disk: { size: file.size, mode: 'shared', file }, ...extra });
  } finally {
    file.close();
  }
}

describe('the guest\'s IDE disk (src/ft/machine/disk.ts)', () => {
  it('reads and writes FILE by PIO: each read sees the writes before it, and FILE ends with what the guest wrote', async () => {
    const path = freshDisk('rw.img');
    const result = await runOn(path);
    assert.equal(result.end, 'exited');
    assert.equal(result.serial, EXPECTED_SERIAL);
    assert.deepEqual(result.disk, { reads: 3, bytesRead: 1536, writes: 6, bytesWritten: 3072 });
    const bytes = readFileSync(path);
    const sector = (n: number) => bytes.subarray(n * 512, n * 512 + 16).toString('latin1');
    assert.equal(sector(1), 'kello-disk-12345');
    assert.deepEqual([2, 3, 4].map(sector), ['iello-disk-12345', 'jello-disk-12345', 'kello-disk-12345']);
  });

  it('a recording replays without FILE (reads are logged with their data) to the same epoch hashes, and writes nothing', async () => {
    const path = freshDisk('replayed.img');
    const recorded = await runOn(path);
    const after = readFileSync(path);
    const replayed = await runGuest({
      image, seed: 1, epochLength: 100_000, replay: recorded.recorded, disk: { size: DISK_BYTES, mode: 'shared' },
    });
    assert.ok(recorded.epochHashes.length >= 5, `the run spans epochs (${recorded.epochHashes.length})`);
    assert.deepEqual(replayed.epochHashes, recorded.epochHashes);
    assert.equal(replayed.stateHash, recorded.stateHash);
    assert.equal(replayed.serial, EXPECTED_SERIAL);
    assert.ok(readFileSync(path).equals(after));
  });

  it('a replay given other read data diverges (the data is part of the state)', async () => {
    const recorded = await runOn(freshDisk('tampered.img'));
    const events = recorded.recorded.map((e) => (e.kind === 'input' && e.device === 'disk' ? { ...e, data: e.data.slice() } : e));
    const firstRead = events.find((e) => e.kind === 'input' && e.device === 'disk');
    assert.ok(firstRead && firstRead.kind === 'input');
    firstRead.data[8 + 1] ^= 1;
    const replayed = await runGuest({ image, seed: 1, epochLength: 100_000, replay: events, disk: { size: DISK_BYTES, mode: 'shared' } });
    assert.notEqual(replayed.epochHashes[0], recorded.epochHashes[0]);
    assert.equal(replayed.serial.slice(0, 2), 'hd');
  });

  it('a machine cloned at an epoch boundary (the disk state in its snapshot) computes the same epoch hashes', async () => {
    const unstopped = await runOn(freshDisk('unstopped.img'));
    for (const cloneAt of [200_000, 500_000]) {
      const cloned = await runOn(freshDisk(`cloned-${cloneAt}.img`), { cloneAt });
      assert.ok(cloned.clonedAt !== undefined);
      assert.deepEqual(cloned.epochHashes, unstopped.epochHashes, `cloned at ${cloned.clonedAt}`);
      assert.equal(cloned.serial, EXPECTED_SERIAL);
    }
  });

  it('disk state takes part in epoch hashes: a sector written on one side only is named by its 4 KiB block', async () => {
    const machines = await Promise.all([0, 1].map(async () => {
      const file = DiskFile.open(freshDisk('poked.img'));
      return Machine.create({
        image, epochLength: 100_000, nondet: new Recorder(() => undefined, { random: () => 1 }),
        disk: { size: file.size, mode: 'shared', read: (offset, length) => file.read(offset, length) },
      });
    }));
    const epochs = machines.map((machine) => {
      machine.run(150_000);
      return machine.epoch!;
    });
    assert.equal(epochs[0].hash, epochs[1].hash);
    machines[1].writeDisk(5 * 4096 + 512, new Uint8Array(512).fill(7));
    const after = machines.map((machine) => {
      machine.run(machine.instructions + 150_000);
      return machine.epoch!;
    });
    assert.notEqual(after[0].hash, after[1].hash);
    assert.equal(after[0].hash.slice(0, 16), after[1].hash.slice(0, 16), 'memory is the same');
    const blocks = [...after[0].disk!.keys()].filter((b) => after[0].disk![b] !== after[1].disk![b]);
    assert.deepEqual(blocks, [5]);
    machines.forEach((machine) => machine.destroy());
  });

  it('a disk-image guest (the primary master, which the BIOS boots) has the disk as the primary slave; its recording replays', async function () {
    skipWithoutBios(this);
    const path = freshDisk('slave.img');
    const bootSector = join(dir, 'bootsector.img');
    writeFileSync(bootSector, slaveDiskBootSector());
    const bios = { bios: readFileSync(SEABIOS), vgaBios: readFileSync(VGABIOS) };
    const settings = { image: loadImage(bootSector), bios, seed: 1, epochLength: 1_000_000 };
    const recorded = await runOn(path, settings);
    assert.equal(recorded.end, 'halted');
    assert.equal(recorded.serial.slice(-17), 'hello-disk-12345\n', 'the boot sector read sector 1 of the slave');
    assert.deepEqual(recorded.disk, { reads: 1, bytesRead: 512, writes: 2, bytesWritten: 1024 });
    const bytes = readFileSync(path);
    assert.deepEqual([1, 2].map((n) => bytes.subarray(n * 512, n * 512 + 16).toString('latin1')), ['iello-disk-12345', 'iello-disk-12345']);
    const replayed = await runGuest({ ...settings, replay: recorded.recorded, disk: { size: DISK_BYTES, mode: 'shared' } });
    assert.ok(recorded.epochHashes.length >= 3, `the run spans epochs (${recorded.epochHashes.length})`);
    assert.deepEqual(replayed.epochHashes, recorded.epochHashes);
    assert.equal(replayed.serial, recorded.serial);
  });

  it('a read larger than a log entry carries is logged in pieces and replayed whole', () => {
    const length = 600 * 1024;
    const disk = new Uint8Array(length + 4096).map((_, i) => (i * 13) & 0xff);
    const events: RecordedEvent[] = [];
    const own = { logsData: true, read: (offset: number, n: number) => disk.slice(offset, offset + n) };
    const read = new Recorder((event) => events.push(event)).diskRead(77, { offset: 4096, length }, own);
    assert.deepEqual(events.map((e) => (e.kind === 'input' ? decodeDiskIo(e.data).length : 0)), [262144, 262144, 90112]);
    const replayer = new Replayer();
    events.forEach((event) => replayer.push(event));
    const noDisk = { logsData: true, read: (): Uint8Array => { throw new Error('a shared-mode replay reads no disk'); } };
    assert.deepEqual(replayer.diskRead(77, { offset: 4096, length }, noDisk), read);
    assert.deepEqual(read, disk.subarray(4096, 4096 + length));
  });

  describe('bad input: one line, nothing written', () => {
    const badDir = join(dir, 'bad');
    mkdirSync(badDir);
    const refused = async (args: string[], message: RegExp, untouched?: string, command = 'run') => {
      const before = untouched && readFileSync(untouched);
      const error = await cli([command, guestPath, ...args]).then(() => undefined, (e: { stderr: string }) => e);
      assert.ok(error, `refused: ${args.join(' ')}`);
      assert.match(error.stderr, message);
      assert.equal(error.stderr.trim().split('\n').length, 1, error.stderr);
      if (untouched) assert.ok(readFileSync(untouched).equals(before as Buffer));
    };

    it('a missing FILE, a directory, a size that is not whole sectors', async () => {
      await refused(['--disk', join(badDir, 'none.img')], /--disk .*none\.img: no such file/);
      await refused(['--disk', badDir], /--disk .*bad: it is not a regular file/);
      const odd = join(badDir, 'odd.img');
      writeFileSync(odd, Buffer.alloc(1000));
      await refused(['--disk', odd], /its size, 1000 bytes, is not a whole number of 512-byte sectors/, odd);
    });

    it('an unwritable FILE (immutable: chattr +i, which binds root too)', async function () {
      const path = freshDisk('immutable.img');
      if (spawnSync('chattr', ['+i', path]).status !== 0) {
        console.log('      (skipped: chattr +i needs root and a file system with the immutable flag)');
        return this.skip();
      }
      try {
        await refused(['--disk', path], /--disk .*immutable\.img: it cannot be written \(permission denied\)/, path);
        await refused(['--disk', path], /cannot be written/, path, 'ft');
        assert.ok(!existsSync(`${path}.lock`), 'no lock left');
      } finally {
        spawnSync('chattr', ['-i', path]);
      }
    });

    it('the same FILE twice, a bad --disk-mode, local where it means nothing', async () => {
      const path = freshDisk('twice.img');
      await refused(['--disk', path, '--disk', join(dir, '.', 'twice.img')], /--disk .* is given twice: the same file cannot be two disks/, path);
      await refused(['--disk', path, '--disk-mode', 'mirrored'], /--disk-mode: expected shared or local, got 'mirrored'/, path);
      const remus = /--disk-mode local is for --mode replay: a checkpoint backup runs no guest to write its copy/;
      await refused(['--disk', path, '--disk-mode', 'local', '--mode', 'checkpoint'], remus, path, 'ft');
      const single = /--disk-mode local is for lockstep ft \(each host its own copy, FILE\.host-N\): lockstep run has one host/;
      await refused(['--disk', path, '--disk-mode', 'local'], single, path);
      assert.ok(!existsSync(`${path}.host-1`), 'no copy made');
      assert.ok(!existsSync(`${path}.lock`), 'no lock left');
    });

    it('a FILE another run holds (its lock names a live process)', async () => {
      const path = freshDisk('locked.img');
      const unlock = lockDisk(path);
      try {
        await refused(['--disk', path], new RegExp(`is in use by another run \\(process ${process.pid} holds`), path);
      } finally {
        unlock();
      }
      const { stdout } = await cli(['run', guestPath, '--disk', path]);
      assert.equal(stdout, EXPECTED_SERIAL);
    });
  });
});
