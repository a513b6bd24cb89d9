// Recording, whole processes, against QEMU's record/replay (Debian's qemu-system-x86): one cycle runs
// `lockstep run GUEST --json` (a recorded run: every nondeterministic value goes through a Recorder),
// QEMU record, QEMU replay of that record and plain QEMU (TCG, no icount), each under /usr/bin/time -v.
// Rows pair Lockstep with QEMU record and plain QEMU, QEMU replay with QEMU record, and peak memory.
import { join } from 'node:path';
import { BuiltinGuest } from '../src/ft/image';
import { BenchContext, BenchmarkModule, RowInput, collectGarbage, compareRow, skippedRow } from './harness';
import { CLI, CLI_MISSING, QEMU_INSTALL, TIME_INSTALL, qemuBinary, qemuVersion, runLockstepCli, runQemu } from './lib/processes';
import { existsSync } from 'node:fs';

interface Config { guest: BuiltinGuest; cmdline: string; until: RegExp }

function configs(ctx: BenchContext): Config[] {
  return [
    { guest: 'spin', cmdline: `iterations=${ctx.pick(50_000_000, 100_000)}`, until: /spin checksum=\w+ iterations=\d+\n/ },
    { guest: 'ticker', cmdline: `hz=1000 ticks=${ctx.pick(1000, 20)} every=100`, until: /ticker done hash=\w+\n/ },
  ];
}

async function measure(ctx: BenchContext, config: Config): Promise<RowInput[]> {
  const { guest, cmdline, until } = config;
  const rrFile = join(ctx.tmpDir, `${guest}.rr`);
  const cycles = ctx.pick(5, 1);
  const lockstep: number[] = [];
  const record: number[] = [];
  const replay: number[] = [];
  const plain: number[] = [];
  const lockstepRss: number[] = [];
  const recordRss: number[] = [];
  for (let i = 0; i < cycles + ctx.pick(1, 0); i++) {
    const warm = ctx.smoke ? false : i === 0;
    collectGarbage();
    const a = await runLockstepCli(guest, ['--cmdline', cmdline]);
    const b = await runQemu({ guest, cmdline, mode: 'record', rrFile, until, tmpDir: ctx.tmpDir });
    const c = await runQemu({ guest, cmdline, mode: 'replay', rrFile, until, tmpDir: ctx.tmpDir });
    const d = await runQemu({ guest, cmdline, mode: 'plain', until, tmpDir: ctx.tmpDir });
    ctx.log(`${guest} ${warm ? 'warm-up' : `${i + (ctx.smoke ? 1 : 0)}/${cycles}`}: lockstep ${(a.wallMs / 1000).toFixed(2)} s ${(a.maxRssKiB / 1024).toFixed(0)} MiB, qemu record ${(b.wallMs / 1000).toFixed(2)} s ${(b.maxRssKiB / 1024).toFixed(0)} MiB (${b.rrBytes} B), replay ${(c.wallMs / 1000).toFixed(2)} s, plain ${(d.wallMs / 1000).toFixed(2)} s`);
    if (warm) continue;
    lockstep.push(a.wallMs / 1000);
    record.push(b.wallMs / 1000);
    replay.push(c.wallMs / 1000);
    plain.push(d.wallMs / 1000);
    lockstepRss.push(a.maxRssKiB / 1024);
    recordRss.push(b.maxRssKiB / 1024);
  }
  const label = `${guest} (${cmdline})`;
  const rows: RowInput[] = [
    compareRow({
      name: `${label}: Lockstep record vs QEMU record, whole process`,
      unit: 's',
      value: lockstep,
      baseline: record,
      baselineLabel: 'QEMU record',
      note:
        '`lockstep run --json` (node dist/cli.js) vs `qemu-system-i386 -icount shift=auto,rr=record`; spawn to exit, startup included; QEMU is stopped by SIGTERM when the last line appears. Lower is faster.' +
        (guest === 'ticker' ? " QEMU's icount (sleep=on, the default) waits for timers in real time while the guest halts; Lockstep's virtual clock skips that time. (sleep=off took about 95 s for 2000 ticks here.)" : ''),
    }),
    compareRow({
      name: `${label}: QEMU replay vs QEMU record (the peer's own replay cost)`,
      unit: 's',
      value: replay,
      baseline: record,
      baselineLabel: 'QEMU record',
      note: 'rr=replay of the record made in the same cycle.',
    }),
    compareRow({
      name: `${label}: Lockstep record vs plain QEMU (TCG, no icount), whole process`,
      unit: 's',
      value: lockstep,
      baseline: plain,
      baselineLabel: 'plain QEMU',
      note: 'Lower is faster.',
    }),
  ];
  rows.push(
    lockstepRss.every(Number.isFinite)
      ? compareRow({
          name: `${label}: peak memory, Lockstep record vs QEMU record`,
          unit: 'MiB',
          value: lockstepRss,
          baseline: recordRss,
          baselineLabel: 'QEMU record',
          note: 'Maximum resident set size from /usr/bin/time -v; both guests have 32 MiB of RAM.',
        })
      : skippedRow(`${label}: peak memory, Lockstep record vs QEMU record`, 'MiB', TIME_INSTALL),
  );
  return rows;
}

export const recordBenchmark: BenchmarkModule = {
  name: 'record',
  groups: ['qemu'],
  description: 'Lockstep recorded run vs QEMU record/replay and plain QEMU, whole processes (time, peak memory)',
  run: async (ctx) => {
    const qemu = qemuBinary();
    const names = configs(ctx).flatMap(({ guest, cmdline }) =>
      ['Lockstep record vs QEMU record, whole process', "QEMU replay vs QEMU record (the peer's own replay cost)", 'Lockstep record vs plain QEMU (TCG, no icount), whole process', 'peak memory, Lockstep record vs QEMU record'].map(
        (what) => `${guest} (${cmdline}): ${what}`,
      ),
    );
    const missing = !qemu ? QEMU_INSTALL : !existsSync(CLI) ? CLI_MISSING : undefined;
    if (missing) return names.map((name) => skippedRow(name, name.includes('memory') ? 'MiB' : 's', missing));
    ctx.log(`using ${await qemuVersion()} at ${qemu}`);
    const rows: RowInput[] = [];
    for (const config of configs(ctx)) rows.push(...(await measure(ctx, config)));
    return rows;
  },
};
