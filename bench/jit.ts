// JIT on vs JIT off on a Lockstep machine (both deterministic, each self-consistent), spin, alternating.
import { BenchmarkModule, alternate, compareRow } from './harness';
import { runLockstep } from './lib/guests';
import { SPIN_CHECKSUM } from './machine';

export const jitBenchmark: BenchmarkModule = {
  name: 'jit',
  groups: ['machine'],
  description: 'Lockstep Machine MIPS with the JIT on vs off (spin)',
  run: async (ctx) => {
    const cmdline = `iterations=${ctx.pick(12_500_000, 50_000)}`;
    const { a: on, b: off } = await alternate(
      ctx.pick(5, 1),
      () => runLockstep({ guest: 'spin', cmdline, until: SPIN_CHECKSUM, jit: true }),
      () => runLockstep({ guest: 'spin', cmdline, until: SPIN_CHECKSUM, jit: false }),
      { warmup: ctx.pick(1, 0), log: ctx.log, label: 'spin MIPS jit on|off' },
    );
    return [
      compareRow({
        name: `spin (${(on[0].instructions / 1e6).toFixed(0)} M instr.): Lockstep JIT on vs JIT off`,
        unit: 'MIPS',
        value: on.map((r) => r.mips),
        baseline: off.map((r) => r.mips),
        baselineLabel: 'Lockstep, JIT off',
        note: 'A shorter run than the spin row above, so JIT warm-up weighs more here.',
      }),
    ];
  },
};
