import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { differingPages, Epoch, imagesDir, loadImage, Machine, Recorder, SliceRecord } from '../../../src/ft/machine';
import { RunOptions, RunResult, runGuest } from '../../../src/ft/commands';
import { TEST_EPOCH, TEST_GUESTS, shortRun } from '../../support/guests';

function assertSameRun(a: RunResult, b: RunResult, what: string): void {
  assert.equal(b.serial, a.serial, `${what}: serial output differs`);
  assert.deepEqual(b.epochHashes, a.epochHashes, `${what}: epoch hashes differ`);
  assert.equal(b.instructions, a.instructions, `${what}: instruction counts differ`);
  assert.equal(b.stateHash, a.stateHash, `${what}: final state differs`);
}

describe('deterministic machine', function () {
  describe('two runs are identical (virtual clock)', () => {
    for (const guest of TEST_GUESTS) {
      for (const jit of [true, false]) {
        it(`${guest}, JIT ${jit ? 'on' : 'off'}`, async () => {
          const first = await runGuest(shortRun(guest, { jit }));
          const second = await runGuest(shortRun(guest, { jit }));
          assert.equal(first.end, 'halted', `${guest} should end by itself`);
          assert.ok(first.epochHashes.length >= 2, `${guest} should cross several epochs`);
          assertSameRun(first, second, guest);
        });
      }
    }
  });

  describe('host clock: a recorded run replays identically', () => {
    for (const guest of TEST_GUESTS) {
      for (const jit of [true, false]) {
        it(`${guest}, JIT ${jit ? 'on' : 'off'}`, async () => {
          const recorded = await runGuest(shortRun(guest, { jit, clock: 'host' }));
          const clockReadings = recorded.recorded.filter((e) => e.kind === 'nondet' && e.source === 'clock');
          assert.ok(clockReadings.length > 0, 'a host-clock run logs its clock readings');
          const replayed = await runGuest(shortRun(guest, { jit, clock: 'host', replay: recorded.recorded }));
          assertSameRun(recorded, replayed, guest);
        });
      }
    }
  });

  it('inputs recorded on one run replay to the identical state on another', async () => {
    const recorded = await runGuest(shortRun('kv'));
    const inputs = recorded.recorded.filter((e) => e.kind === 'input');
    assert.equal(inputs.length, 12, 'every scripted line is delivered as one logged input');
    assert.match(recorded.serial, /2 2 VALUE xz\n/);
    const replayed = await runGuest(shortRun('kv', { replay: recorded.recorded }));
    assertSameRun(recorded, replayed, 'kv replay');
  });

  describe('a clone at an epoch boundary continues identically', () => {
    for (const [guest, jit] of [['ticker', true], ['kv', true], ['lock', true], ['spin', true], ['ticker', false]] as const) {
      it(`${guest}, JIT ${jit ? 'on' : 'off'}, at several epochs`, async () => {
        const unstopped = await runGuest(shortRun(guest, { jit }));
        const picks = [0, Math.floor(unstopped.epochs.length / 2), unstopped.epochs.length - 2];
        for (const k of picks) {
          const cloned = await runGuest(shortRun(guest, { jit, cloneAt: unstopped.epochs[k].at }));
          assert.equal(cloned.clonedAt, unstopped.epochs[k].at);
          assertSameRun(unstopped, cloned, `${guest} cloned at epoch ${unstopped.epochs[k].index}`);
        }
      });
    }

    it('restored from a snapshot file in a fresh process (ticker)', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'lockstep-snap-'));
      const run = shortRun('ticker');
      const unstopped = await runGuest(run);
      const at = unstopped.epochs[3].at;
      const snapshot = join(dir, 'ticker.snap');
      const cli = (args: string[]) =>
        JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'run', 'ticker', '--json',
          '--cmdline', String(run.cmdline), '--epoch', String(TEST_EPOCH), ...args]).toString());
      const writer = cli(['--snapshot-at', String(at), '--snapshot-file', snapshot]);
      assert.deepEqual(writer.epochHashes, unstopped.epochHashes, 'taking a snapshot perturbs nothing');
      const restored = cli(['--from-snapshot', snapshot]);
      assert.deepEqual(restored.epochHashes, unstopped.epochHashes.slice(4), 'the restored machine computes the same epochs');
      assert.equal(restored.stateHash, unstopped.stateHash);
      assert.equal(restored.serial, unstopped.serial.slice(unstopped.serial.length - restored.serial.length));
      assert.ok(restored.serial.includes('ticker done'), 'the restored run finishes the guest');
    });
  });

  it('the NE2000 v86 puts on the PCI bus has the same MAC on every machine, as a guest reads it, and its state is hashed', async () => {
    const machines: Machine[] = [];
    const random = Math.random;
    try {
      // v86 draws the card's MAC from Math.random: make two machines draw differently.
      for (const draw of [0.1, 0.9]) {
        Math.random = () => draw;
        machines.push(await Machine.create({ image: loadImage('spin'), nondet: new Recorder(() => {}), epochLength: TEST_EPOCH }));
      }
    } finally {
      Math.random = random;
    }
    const proms = machines.map(readMacProm);
    assert.deepEqual(proms[0], [0x02, 0x02, 0x4c, 0x4c, 0x53, 0x53, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01], 'GUEST_MAC, each byte twice');
    assert.deepEqual(proms[1], proms[0]);
    const [a, b] = machines.map((m) => m.componentHashes());
    assert.equal(a.net, b.net);
    // The card's memory is restored from a snapshot too (v86 keeps it only when asked to).
    type WithCard = { cpu: { devices: { net: { memory: Uint8Array } } } };
    const card = (m: Machine) => (m as unknown as WithCard).cpu.devices.net.memory;
    card(machines[0])[0x4000] = 0x5a;
    const restored = await Machine.restore(machines[0].snapshot(), { image: loadImage('spin'), nondet: new Recorder(() => {}), epochLength: TEST_EPOCH });
    assert.equal(card(restored)[0x4000], 0x5a);
    assert.equal(restored.componentHashes().net, machines[0].componentHashes().net);
    assert.notEqual(machines[0].componentHashes().net, machines[1].componentHashes().net, 'a change in card memory changes the hash');
    [...machines, restored].forEach((m) => m.destroy());
  });

  it('a one-byte change in memory shows in the next epoch hash, naming the page', async () => {
    const page = 0x1234;
    const epochs: Epoch[][] = [[], []];
    for (const side of [0, 1]) {
      const machine = await Machine.create({ image: loadImage('spin'), nondet: new Recorder(() => {}), epochLength: TEST_EPOCH, cmdline: 'iterations=3000000' });
      machine.on({ epoch: (e) => epochs[side].push(e) });
      machine.run(25_000_000);
      if (side === 1) {
        machine.writePhysical(page * 4096 + 17, Uint8Array.of(machine.readPhysical(page * 4096 + 17, 1)[0] ^ 0x40));
      }
      machine.run(45_000_000);
      machine.destroy();
    }
    const [before, after] = epochs;
    const first = before.findIndex((e) => e.at > 25_000_000);
    assert.ok(first > 0);
    assert.equal(before[first - 1].hash, after[first - 1].hash, 'epochs before the change agree');
    assert.notEqual(before[first].hash, after[first].hash, 'the first epoch after the change differs');
    assert.deepEqual(differingPages(before[first].pages, after[first].pages), [page]);
    assert.equal(before[first].hash.slice(16), after[first].hash.slice(16), 'registers and devices are untouched');
  });
});

/** The NE2000's station-address PROM, read as a driver does: a 12-byte remote DMA read from card address 0. */
function readMacProm(machine: Machine): number[] {
  type PortIo = { port_write8(port: number, value: number): void; port_read8(port: number): number };
  const io = (machine as unknown as { cpu: { io: PortIo } }).cpu.io;
  const base = 0x300;
  io.port_write8(base, 0x21); // page 0, remote DMA aborted, stopped
  for (const [register, value] of [[0x08, 0], [0x09, 0], [0x0a, 12], [0x0b, 0]]) io.port_write8(base + register, value);
  io.port_write8(base, 0x0a); // remote read, start
  return Array.from({ length: 12 }, () => io.port_read8(base + 0x10));
}

describe("the RTC's alarm", () => {
  /** Runs `body` while the host's clock says another date (as a replay on another day sees it). */
  async function onAnotherDay<T>(body: () => Promise<T>): Promise<T> {
    const HostDate = Date;
    const otherDay = HostDate.UTC(2031, 5, 1, 23, 59, 59);
    globalThis.Date = class extends HostDate {
      static override now = () => otherDay;
      constructor(...args: unknown[]) {
        // @ts-expect-error: Date takes what it is given, passed on as it came.
        super(...(args.length ? args : [otherDay]));
      }
    } as DateConstructor;
    try {
      return await body();
    } finally {
      globalThis.Date = HostDate;
    }
  }

  it("fires at the guest's time, at the same instruction in every run, whatever the host's date", async () => {
    const options = () => shortRun('ticker', { cmdline: 'hz=1000 ticks=1500 every=0 alarm=1' });
    const first = await runGuest(options());
    const fired = /^ticker alarm tick=(\d+)$/m.exec(first.serial);
    assert.ok(fired, `the alarm set 1 s ahead fired within the run's 1.5 s of guest time: ${JSON.stringify(first.serial)}`);
    assert.ok(Number(fired[1]) > 0 && Number(fired[1]) <= 1001, `at tick ${fired[1]}`);
    const second = await onAnotherDay(() => runGuest(options()));
    assert.equal(second.serial, first.serial);
    assert.deepEqual(second.epochHashes, first.epochHashes);
    assert.equal(second.stateHash, first.stateHash);
  });
});

// scatter's hot loop calls eight functions, each on a page of its own; v86 puts at most three pages in
// one module, and which callees join the loop's depends on the order of a Rust HashSet, whose keys
// move with every set v86 makes (docs/machine.md, "The JIT"). Unless a snapshot carries them (in the
// JIT's state, src/ft/machine/jitstate.ts), a clone compiles other modules than the original, its
// slices end elsewhere and the timer interrupts the guest hashes land elsewhere.
describe("the JIT's hash keys are carried by snapshots (guests/scatter)", () => {
  const scatter = (extra: Partial<RunOptions> = {}): RunOptions => ({
    image: loadImage(join(imagesDir(), 'scatter.elf')), epochLength: TEST_EPOCH, cmdline: 'hz=1000 ticks=90', maxInstructions: 200_000_000, ...extra,
  });

  it('a clone restored into a fresh v86 at several epochs continues identically', async () => {
    const unstopped = await runGuest(scatter());
    assert.equal(unstopped.end, 'halted');
    assert.match(unstopped.serial, /^scatter done hash=[0-9a-f]{8}\n$/);
    const picks = [1, Math.floor(unstopped.epochs.length / 2), unstopped.epochs.length - 2];
    for (const k of picks) {
      const cloned = await runGuest(scatter({ cloneAt: unstopped.epochs[k].at }));
      assert.equal(cloned.clonedAt, unstopped.epochs[k].at);
      assertSameRun(unstopped, cloned, `scatter cloned at epoch ${unstopped.epochs[k].index}`);
    }
  });

  it('the same machine, gone back to an epoch snapshot, recomputes the same epochs', async () => {
    const { image, epochLength, cmdline } = scatter();
    const machine = await Machine.create({ image, epochLength, cmdline, nondet: new Recorder(() => {}) });
    const epochs: Epoch[] = [];
    const snapshots = new Map<number, Uint8Array>();
    machine.on({
      epoch: (e) => {
        epochs.push(e);
        if (e.index % 4 === 2) snapshots.set(e.index, machine.snapshot());
      },
    });
    machine.run(200_000_000);
    assert.ok(machine.isEnded && snapshots.size >= 3, 'scatter ends by itself, past several snapshots');
    const firstPass = epochs.splice(0).map((e) => e.hash);
    for (const [index, snapshot] of snapshots) {
      machine.restoreFrom(snapshot);
      machine.run(200_000_000);
      assert.deepEqual(epochs.splice(0).map((e) => e.hash), firstPass.slice(index), `back at epoch ${index}`);
    }
    machine.destroy();
  });
});

describe('snapshots restored in place', () => {
  it('going back to an epoch snapshot and running again recomputes the same epochs', async () => {
    const machine = await Machine.create({ image: loadImage('ticker'), nondet: new Recorder(() => {}), epochLength: TEST_EPOCH, cmdline: 'hz=1000 ticks=250 every=50' });
    const epochs: Epoch[] = [];
    let snapshot: Uint8Array | undefined;
    machine.on({ epoch: (e) => { epochs.push(e); if (epochs.length === 2) snapshot = machine.snapshot(); } });
    machine.run(120_000_000);
    const firstPass = epochs.map((e) => e.hash);
    epochs.splice(0);
    machine.restoreFrom(snapshot!);
    machine.run(120_000_000);
    assert.deepEqual(epochs.map((e) => e.hash), firstPass.slice(2));
    machine.destroy();
  });

  it('restores the lazy-flags result and FPU/SSE status words, which v86 saves as its views, not values', async () => {
    const machine = await Machine.create({ image: loadImage('spin'), nondet: new Recorder(() => {}), epochLength: TEST_EPOCH, cmdline: 'iterations=3000000' });
    const checkpoints: { snapshot: Uint8Array; registers: unknown }[] = [];
    machine.on({
      epoch: () => {
        if (checkpoints.length < 3) checkpoints.push({ snapshot: machine.snapshot(), registers: machine.registers });
      },
    });
    machine.run(45_000_000);
    for (const { snapshot, registers } of checkpoints) {
      machine.restoreFrom(snapshot);
      assert.deepEqual(machine.registers, registers, 'EFLAGS computed from the restored lazy-flags state');
    }
    machine.destroy();
  });

  it('the state inside the first slice does not depend on when the machine booted (v86\'s RTC starts at host time)', async () => {
    const boot = () => Machine.create({ image: loadImage('ticker'), nondet: new Recorder(() => {}), epochLength: TEST_EPOCH });
    const recorder = await boot();
    let first: SliceRecord | undefined;
    recorder.on({ slice: (slice) => { first ??= slice; } });
    recorder.runSlice();
    const states: Record<string, bigint>[] = [];
    for (const _ of [0, 1]) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const machine = await boot();
      machine.stepTo(Math.floor(first!.to / 2), first!);
      states.push(machine.componentHashes());
      machine.destroy();
    }
    assert.deepEqual(states[1], states[0]);
    recorder.destroy();
  });

  it('refuses a snapshot of another configuration, naming the setting', async () => {
    const options = { image: loadImage('spin'), nondet: new Recorder(() => {}), epochLength: TEST_EPOCH };
    const a = await Machine.create(options);
    const b = await Machine.create({ ...options, epochLength: 2 * TEST_EPOCH });
    assert.throws(() => b.restoreFrom(a.snapshot()), /epoch length 2000000, this machine 4000000/);
    assert.throws(() => b.restoreFrom(Uint8Array.of(1, 2, 3)), /not a Lockstep snapshot/);
    a.destroy();
    b.destroy();
  });
});
