// What an epoch costs: hashing guest memory page by page in place (src/ft/machine/pagehasher.ts) at 32 and
// 64 MiB against one epoch of execution and against xxhash-wasm's hashing of the same pages (a copy each),
// the whole epoch work (page hashes + CPU/device hash) against the epoch after it, and end to
// end: spin with the default epoch length against spin with no epochs.
import { DEFAULT_EPOCH_LENGTH, Machine, pageHashes, Recorder } from '../src/ft/machine';
import { BenchContext, BenchmarkModule, RowInput, alternate, collectGarbage, compareRow } from './harness';
import { image, runLockstep } from './lib/guests';
import { SPIN_CHECKSUM } from './machine';

/** An epoch length no run here reaches: epochs off. */
export const NO_EPOCHS = 1e15;

function timed(f: () => void): number {
  const started = performance.now();
  f();
  return performance.now() - started;
}

async function hashing(ctx: BenchContext, memoryMiB: number): Promise<RowInput[]> {
  const epochLength = ctx.pick(DEFAULT_EPOCH_LENGTH, 1_000_000);
  // A spin that never ends here, with epochs off so that only the measured hashing happens.
  const machine = await Machine.create({
    image: image('spin'),
    nondet: new Recorder(() => undefined),
    cmdline: 'iterations=1000000000',
    memoryMiB,
    epochLength: NO_EPOCHS,
  });
  try {
    machine.run(ctx.pick(3 * DEFAULT_EPOCH_LENGTH, 1_000_000)); // JIT warm
    const pairs = ctx.pick(9, 1);
    const hash: number[] = [];
    const copied: number[] = [];
    const exec: number[] = [];
    const work: number[] = [];
    const execAfterWork: number[] = [];
    const warmup = ctx.pick(1, 0); // the first hashing of a machine's memory is much slower (cold pages)
    for (let i = -warmup; i < pairs; i++) {
      collectGarbage();
      const h = timed(() => machine.pageHashes());
      const c = timed(() => pageHashes(machine.memory));
      const e = timed(() => machine.run(machine.instructions + epochLength));
      collectGarbage();
      const w = timed(() => machine.currentHash());
      const n = timed(() => machine.run(machine.instructions + epochLength));
      ctx.log(`epoch ${memoryMiB} MiB ${i < 0 ? 'warm-up' : `${i + 1}/${pairs}`}: hash ${h.toFixed(1)} ms (copied ${c.toFixed(1)}), epoch ${e.toFixed(1)} ms, work ${w.toFixed(1)} ms, next epoch ${n.toFixed(1)} ms`);
      if (i < 0) continue;
      hash.push(h);
      copied.push(c);
      exec.push(e);
      work.push(w);
      execAfterWork.push(n);
    }
    const epochM = epochLength / 1e6;
    return [
      compareRow({
        name: `page hashes of ${memoryMiB} MiB vs one epoch (${epochM} M instr. of spin)`,
        unit: 'ms',
        value: hash,
        baseline: exec,
        baselineLabel: 'one epoch of execution',
        target: '<= 0.1',
        note: `xxHash64 per 4 KiB page (${(memoryMiB * 256).toLocaleString('en-US')} pages). Target (ours): hashing stays under a tenth of an epoch.`,
      }),
      compareRow({
        name: `page hashes of ${memoryMiB} MiB: in place vs xxhash-wasm (each page copied into its memory)`,
        unit: 'ms',
        value: hash,
        baseline: copied,
        baselineLabel: 'xxhash-wasm h64Raw per page',
        note: 'The same xxHash64 values. In place: wasm that imports v86\'s memory and hashes each page where it is (pagehasher.ts). Hashing alone: the copies read every page, so none is left unmapped to skip.',
      }),
      compareRow({
        name: `epoch work at ${memoryMiB} MiB (page hashes + CPU/device hash) vs the epoch after it`,
        unit: 'ms',
        value: work,
        baseline: execAfterWork,
        baselineLabel: 'next epoch',
        note: 'Machine.currentHash(), what an epoch boundary does (the JIT\'s code is kept across it: snapshots carry the JIT\'s state).',
      }),
    ];
  } finally {
    machine.destroy();
  }
}

async function endToEnd(ctx: BenchContext): Promise<RowInput> {
  const cmdline = `iterations=${ctx.pick(50_000_000, 100_000)}`;
  const epochLength = ctx.pick(DEFAULT_EPOCH_LENGTH, 100_000);
  const { a: withEpochs, b: without } = await alternate(
    ctx.pick(7, 1),
    () => runLockstep({ guest: 'spin', cmdline, until: SPIN_CHECKSUM, epochLength }),
    () => runLockstep({ guest: 'spin', cmdline, until: SPIN_CHECKSUM, epochLength: NO_EPOCHS }),
    { warmup: ctx.pick(1, 0), log: ctx.log, label: 'spin MIPS epochs|none' },
  );
  return compareRow({
    name: `spin (${(withEpochs[0].instructions / 1e6).toFixed(0)} M instr.): epochs every ${epochLength / 1e6} M instr. vs no epochs`,
    unit: 'MIPS',
    value: withEpochs.map((r) => r.mips),
    baseline: without.map((r) => r.mips),
    baselineLabel: 'Lockstep, no epochs',
    note: 'End-to-end cost of epochs on a Lockstep machine (32 MiB): their hashes (the JIT\'s code is kept across them).',
  });
}

export const epochBenchmark: BenchmarkModule = {
  name: 'epoch',
  groups: ['machine'],
  description: 'Epoch cost: page hashes of 32/64 MiB and the whole epoch work against one epoch of execution',
  run: async (ctx) => [...(await hashing(ctx, 32)), ...(await hashing(ctx, 64)), await endToEnd(ctx)],
};
