// Recording, whole processes, against QEMU's record/replay (Debian's qemu-system-x86): one cycle runs
// `lockstep run GUEST --json` (a recorded run: every nondeterministic value goes through a Recorder),
// QEMU record, QEMU replay of that record, plain QEMU (TCG, no icount), the FT pair recording a log
// file (`lockstep ft GUEST --record F.ftlog --json`) and `lockstep replay F.ftlog --json`, each under
// /usr/bin/time -v. Rows pair Lockstep with QEMU record and plain QEMU, the FT pair with QEMU record,
// QEMU replay with QEMU record, Lockstep's log-file replay with QEMU replay, and peak memory.
import { join } from 'node:path';
import { BuiltinGuest } from '../src/ft/machine';
import { readLogFile } from '../src/ft/log';
import { BenchContext, BenchmarkModule, RowInput, collectGarbage, compareRow, skippedRow } from './harness';
import {
  CLI,
  CLI_MISSING,
  FtProcessRun,
  QEMU_INSTALL,
  ReplayProcessRun,
  TIME_INSTALL,
  qemuBinary,
  qemuVersion,
  runLockstepCli,
  runLockstepFtCli,
  runLockstepReplayCli,
  runQemu,
} from './lib/processes';
import { existsSync } from 'node:fs';

interface Config { guest: BuiltinGuest; cmdline: string; until: RegExp }

function configs(ctx: BenchContext): Config[] {
  return [
    { guest: 'spin', cmdline: `iterations=${ctx.pick(50_000_000, 100_000)}`, until: /spin checksum=\w+ iterations=\d+\n/ },
    { guest: 'ticker', cmdline: `hz=1000 ticks=${ctx.pick(1000, 20)} every=100`, until: /ticker done hash=\w+\n/ },
  ];
}

// What each row compares, after the guest's label; run() also names them all when it skips.
const ROWS = {
  record: 'Lockstep record vs QEMU record, whole process',
  qemuReplay: "QEMU replay vs QEMU record (the peer's own replay cost)",
  plain: 'Lockstep record vs plain QEMU (TCG, no icount), whole process',
  memory: 'peak memory, Lockstep record vs QEMU record',
  ft: 'FT pair vs QEMU record, whole process',
  logReplay: 'Lockstep log-file replay vs QEMU replay, whole process',
} as const;

/**
 * Throws unless the replay reproduced what the FT run recorded (the first primary's epoch hashes and
 * instruction count, and the serial output its file logged), so the replay row never times a broken
 * replay.
 */
async function checkReplay(
  guest: BuiltinGuest,
  ftlog: string,
  ft: FtProcessRun,
  replay: ReplayProcessRun,
  until: RegExp,
): Promise<void> {
  const { failovers, divergences, hosts, epochHashes } = ft.summary;
  // Without a failover the file is the first primary's log, and that host is the one to compare with.
  if (failovers.length || divergences.length) {
    throw new Error(`lockstep ft ${guest}: ${failovers.length} failover(s) and ${divergences.length} divergence(s) in a run without faults`);
  }
  const primary = Object.keys(hosts).find((id) => hosts[id].roles[0]?.role === 'primary');
  if (!primary) throw new Error(`lockstep ft ${guest}: no host started as the primary`);
  const { entries } = await readLogFile(ftlog);
  const logged = entries.map((e) => (e.kind === 'output' ? Buffer.from(e.data).toString('latin1') : '')).join('');
  const r = replay.summary;
  const problems = [
    r.fileError && `the file is damaged: ${r.fileError}`,
    r.epochMismatches.length && `${r.epochMismatches.length} epoch hash(es) differ from the file's`,
    r.epochHashes.join() !== epochHashes[primary].join() && `epoch hashes [${r.epochHashes}] but the primary's were [${epochHashes[primary]}]`,
    r.instructions !== hosts[primary].stats?.instructions && `${r.instructions} instructions but the primary ran ${hosts[primary].stats?.instructions}`,
    r.serial !== logged && `serial ${JSON.stringify(r.serial.slice(-200))} but the file logged ${JSON.stringify(logged.slice(-200))}`,
    !until.test(r.serial) && `serial does not reach ${until}`,
  ].filter(Boolean);
  if (problems.length) throw new Error(`lockstep replay of ${guest}'s FT recording: ${problems.join('; ')}`);
}

async function measure(ctx: BenchContext, config: Config): Promise<RowInput[]> {
  const { guest, cmdline, until } = config;
  const rrFile = join(ctx.tmpDir, `${guest}.rr`);
  const ftlog = join(ctx.tmpDir, `${guest}.ftlog`);
  const cycles = ctx.pick(5, 1);
  const lockstep: number[] = [];
  const record: number[] = [];
  const replay: number[] = [];
  const plain: number[] = [];
  const lockstepRss: number[] = [];
  const recordRss: number[] = [];
  const ftPair: number[] = [];
  const logReplay: number[] = [];
  for (let i = 0; i < cycles + ctx.pick(1, 0); i++) {
    const warm = ctx.smoke ? false : i === 0;
    collectGarbage();
    const a = await runLockstepCli(guest, ['--cmdline', cmdline]);
    const b = await runQemu({ guest, cmdline, mode: 'record', rrFile, until, tmpDir: ctx.tmpDir });
    const c = await runQemu({ guest, cmdline, mode: 'replay', rrFile, until, tmpDir: ctx.tmpDir });
    const d = await runQemu({ guest, cmdline, mode: 'plain', until, tmpDir: ctx.tmpDir });
    collectGarbage();
    const e = await runLockstepFtCli(guest, ftlog, ['--cmdline', cmdline]);
    const f = await runLockstepReplayCli(ftlog);
    await checkReplay(guest, ftlog, e, f, until);
    ctx.log(`${guest} ${warm ? 'warm-up' : `${i + (ctx.smoke ? 1 : 0)}/${cycles}`}: lockstep ${(a.wallMs / 1000).toFixed(2)} s ${(a.maxRssKiB / 1024).toFixed(0)} MiB, qemu record ${(b.wallMs / 1000).toFixed(2)} s ${(b.maxRssKiB / 1024).toFixed(0)} MiB (${b.rrBytes} B), replay ${(c.wallMs / 1000).toFixed(2)} s, plain ${(d.wallMs / 1000).toFixed(2)} s, ft pair ${(e.wallMs / 1000).toFixed(2)} s, lockstep replay ${(f.wallMs / 1000).toFixed(2)} s`);
    if (warm) continue;
    lockstep.push(a.wallMs / 1000);
    record.push(b.wallMs / 1000);
    replay.push(c.wallMs / 1000);
    plain.push(d.wallMs / 1000);
    lockstepRss.push(a.maxRssKiB / 1024);
    recordRss.push(b.maxRssKiB / 1024);
    ftPair.push(e.wallMs / 1000);
    logReplay.push(f.wallMs / 1000);
  }
  const label = `${guest} (${cmdline})`;
  const rows: RowInput[] = [
    compareRow({
      name: `${label}: ${ROWS.record}`,
      unit: 's',
      value: lockstep,
      baseline: record,
      baselineLabel: 'QEMU record',
      note:
        '`lockstep run --json` (node dist/cli.js) vs `qemu-system-i386 -icount shift=auto,rr=record`; spawn to exit, startup included; QEMU is stopped by SIGTERM when the last line appears. Lower is faster.' +
        (guest === 'ticker' ? " QEMU's icount (sleep=on, the default) waits for timers in real time while the guest halts; Lockstep's virtual clock skips that time. (sleep=off took about 95 s for 2000 ticks here.)" : ''),
    }),
    compareRow({
      name: `${label}: ${ROWS.qemuReplay}`,
      unit: 's',
      value: replay,
      baseline: record,
      baselineLabel: 'QEMU record',
      note: 'rr=replay of the record made in the same cycle.',
    }),
    compareRow({
      name: `${label}: ${ROWS.plain}`,
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
        name: `${label}: ${ROWS.memory}`,
        unit: 'MiB',
        value: lockstepRss,
        baseline: recordRss,
        baselineLabel: 'QEMU record',
        note: 'Maximum resident set size from /usr/bin/time -v; both guests have 32 MiB of RAM.',
      })
      : skippedRow(`${label}: ${ROWS.memory}`, 'MiB', TIME_INSTALL),
    compareRow({
      name: `${label}: ${ROWS.ft}`,
      unit: 's',
      value: ftPair,
      baseline: record,
      baselineLabel: 'QEMU record',
      note:
        '`lockstep ft GUEST --cmdline … --record F.ftlog --json` (node dist/cli.js, which starts a primary and a backup host process, each a fresh Node) vs `qemu-system-i386 -icount shift=auto,rr=record`; spawn to exit, start-up included. ' +
        "The CLI exits once the primary's guest has ended and both hosts are stopped; the backup has acknowledged every output by then (the Output Rule) but may not have executed to the end. " +
        'Lower is faster. No peak memory here: /usr/bin/time gives the largest of the three processes, not their sum (the ft rows have both hosts\' memory).',
    }),
    compareRow({
      name: `${label}: ${ROWS.logReplay}`,
      unit: 's',
      value: logReplay,
      baseline: replay,
      baselineLabel: 'QEMU replay',
      note:
        '`lockstep replay F.ftlog --json` of the file the FT pair recorded in the same cycle vs QEMU rr=replay of the record made in the same cycle; spawn to exit. ' +
        "Every cycle checks that the replay reproduced the recording (the primary's epoch hashes and instruction count, the serial output the file logged) or fails. Lower is faster.",
    }),
  );
  return rows;
}

export const recordBenchmark: BenchmarkModule = {
  name: 'record',
  groups: ['qemu'],
  description: 'Lockstep recorded run, FT pair recording and log-file replay vs QEMU record/replay and plain QEMU, whole processes (time, peak memory)',
  run: async (ctx) => {
    const qemu = qemuBinary();
    const names = configs(ctx).flatMap(({ guest, cmdline }) =>
      Object.values(ROWS).map((what) => `${guest} (${cmdline}): ${what}`),
    );
    const missing = !qemu ? QEMU_INSTALL : !existsSync(CLI) ? CLI_MISSING : undefined;
    if (missing) return names.map((name) => skippedRow(name, name.includes('memory') ? 'MiB' : 's', missing));
    ctx.log(`using ${await qemuVersion()} at ${qemu}`);
    const rows: RowInput[] = [];
    for (const config of configs(ctx)) rows.push(...(await measure(ctx, config)));
    return rows;
  },
};
