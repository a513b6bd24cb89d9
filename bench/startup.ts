// `lockstep run` as a whole process against plain v86 in a process of its own (spawn to the end, so
// start-up counts), and its start-up to the first guest instruction phase by phase, from the phase
// marks `lockstep run --json` reports (src/ft/machine/startup.ts). Whole processes alternate pair by
// pair; the V8 option row alternates the same run with and without the option.
import { rmSync } from 'node:fs';
import { STARTUP_PHASES, type StartupPhase, type StartupTimes } from '../src/ft/machine';
import { BenchContext, BenchmarkModule, RowInput, alternate, compareRow, median, runProcess, valueRow } from './harness';
import { buildChildProgram, runPlainV86Process, type PlainProcessRun } from './lib/ft';
import { CLI } from './lib/processes';
import { SPIN_CHECKSUM } from './machine';

const PLAIN = 'plain v86 0.5.462, own process';

/** What each phase is, for the rows' names (in STARTUP_PHASES' order). */
const PHASE_LABELS: Record<StartupPhase, string> = {
  modules: "Node's start-up, reading and compiling the bundle, evaluating its modules",
  image: 'the guest image and the options',
  hasher: 'the xxHash wasm instantiated',
  wasmPatched: "v86's constructor up to its wasm, reading and patching v86.wasm",
  wasmCompiled: 'compiling the patched v86.wasm',
  emulator: 'the rest of v86 (instantiation, memory, devices, the multiboot image)',
  firstInstruction: 'attaching the run loop',
};

interface CliRun {
  /** Spawn to exit. */
  wallMs: number;
  /** CPU time of the whole process (user + system, from /usr/bin/time -v), NaN without it. */
  cpuMs: number;
  instructions: number;
  serial: string;
  /** From spawning the process to the first guest instruction. */
  startupMs: number;
  /** Each phase's own duration, wall ms ('modules' counts from Node's time origin). */
  phases: Record<StartupPhase, number>;
  /** Each phase's CPU time (ms, all threads; 'modules' counts from the process's start). */
  phasesCpu: Record<StartupPhase, number>;
  /** From spawning to Node's time origin: exec and Node's own start before its clock starts. */
  execMs: number;
}

/** Each phase's duration from the marks on one clock (each mark is when its phase ended). */
function phaseDurations(marks: StartupTimes['phases']): Record<StartupPhase, number> {
  let previous = 0;
  const out = {} as Record<StartupPhase, number>;
  for (const phase of STARTUP_PHASES) {
    const end = marks[phase];
    if (end === undefined) throw new Error(`lockstep run --json reported no start-up phase ${phase}`);
    out[phase] = end - previous;
    previous = end;
  }
  return out;
}

/** User + system seconds as /usr/bin/time -v reports them, in ms; NaN when it did not run. */
function timedCpuMs(stderr: string): number {
  const seconds = (what: string) => Number(new RegExp(`${what} time \\(seconds\\): ([\\d.]+)`).exec(stderr)?.[1] ?? NaN);
  return (seconds('User') + seconds('System')) * 1000;
}

/** `node [nodeOptions] dist/cli.js run spin --json`, spawn to exit. */
async function runCli(cmdline: string, nodeOptions: string[] = []): Promise<CliRun> {
  const spawnedAt = Date.now();
  const result = await runProcess(process.execPath, [...nodeOptions, CLI, 'run', 'spin', '--cmdline', cmdline, '--json'], { timeoutMs: 300_000 });
  const line = result.stdout.trim().split('\n').at(-1) ?? '';
  if (result.exitCode !== 0 || !line.startsWith('{')) {
    throw new Error(`lockstep run spin failed (exit ${result.exitCode ?? result.signal}): ${result.stderr.slice(-400)}`);
  }
  const summary = JSON.parse(line) as { instructions: number; serial: string; startup: StartupTimes };
  const execMs = summary.startup.timeOrigin - spawnedAt;
  return {
    wallMs: result.wallMs,
    cpuMs: timedCpuMs(result.stderr),
    instructions: summary.instructions,
    serial: summary.serial,
    phases: phaseDurations(summary.startup.phases),
    phasesCpu: phaseDurations(summary.startup.cpuMs),
    execMs,
    startupMs: execMs + summary.startup.phases.firstInstruction!,
  };
}

/** Plain v86 twice in a round: with V8's own tiers (as users run it) and with Lockstep's (jittier.ts). */
async function plainBoth(program: string, cmdline: string): Promise<{ v8: PlainProcessRun; liftoff: PlainProcessRun }> {
  const v8 = await runPlainV86Process(program, 'spin', cmdline, SPIN_CHECKSUM);
  const liftoff = await runPlainV86Process(program, 'spin', cmdline, SPIN_CHECKSUM, undefined, 'liftoff');
  return { v8, liftoff };
}

/** `lockstep run` against one plain v86 baseline: wall MIPS from spawn to the end, and instructions per CPU second. */
interface Baseline { name: string; label: string; note: string }

function versusPlain(lockstep: CliRun[], plain: PlainProcessRun[], against: Baseline): RowInput[] {
  const label = `spin (${(lockstep[0].instructions / 1e6).toFixed(0)} M instr.)`;
  return [
    compareRow({
      name: `${label}: \`lockstep run\` vs ${against.name}, whole process (spawn to the end, start-up included)`,
      unit: 'MIPS',
      value: lockstep.map((run) => run.instructions / run.wallMs / 1000),
      baseline: plain.map((run) => run.instructions / run.spawnToLineMs / 1000),
      baselineLabel: against.label,
      target: '>= 0.97',
      note: `\`node dist/cli.js run spin --json\` from spawn to exit (Recorder, JIT, epochs every 100 M instructions) vs plain v86 (\`new V86({ multiboot, autostart: true })\`, bench/lib/child.ts bundled into plain JavaScript) from spawn to its checksum line; instructions over that time. ${against.note}`,
    }),
    ...(lockstep.every((run) => Number.isFinite(run.cpuMs)) ? [compareRow({
      name: `${label}: \`lockstep run\` vs ${against.name}, whole process, instructions per CPU second`,
      unit: 'M instr./CPU-s',
      value: lockstep.map((run) => run.instructions / run.cpuMs / 1000),
      baseline: plain.map((run) => run.instructions / run.processCpuMs / 1000),
      baselineLabel: against.label,
      target: '>= 0.97',
      note: 'The row above on CPU time, which other work on this shared machine changes much less than wall time: Lockstep\'s user + system time from /usr/bin/time -v (all threads, start-up and exit included) vs plain v86\'s process.cpuUsage() at its checksum line (all threads, from its start).',
    })] : []),
  ];
}

async function wholeProcess(ctx: BenchContext, program: string): Promise<RowInput[]> {
  const iterations = ctx.pick(150_000_000, 100_000);
  const cmdline = `iterations=${iterations}`;
  const { a: lockstep, b: plainRuns } = await alternate(
    ctx.pick(5, 1),
    () => runCli(cmdline),
    () => plainBoth(program, cmdline),
    { warmup: ctx.pick(1, 0), log: ctx.log, label: 'spin whole process lockstep|plain' },
  );
  const plain = plainRuns.map((runs) => runs.v8);
  lockstep.forEach((run, i) => {
    if (run.serial !== plain[i].serial) throw new Error(`spin printed ${run.serial} on Lockstep, ${plain[i].serial} on plain v86`);
  });
  const label = `spin (${(lockstep[0].instructions / 1e6).toFixed(0)} M instr.)`;
  // Plain v86 counts from emulator-started (its first instruction) to the checksum line; the rest of its
  // spawn-to-line time is its start-up.
  const plainStartup = plain.map((run) => run.spawnToLineMs - run.ms);
  return [
    ...versusPlain(lockstep, plain, { name: 'plain v86', label: PLAIN, note: 'The whole-process figure is what a user waits for; the next rows split its start-up.' }),
    ...versusPlain(lockstep, plainRuns.map((runs) => runs.liftoff), {
      name: 'plain v86 with the JIT\'s modules in Liftoff alone',
      label: `${PLAIN}, JIT's modules in Liftoff alone`,
      note: 'The same plain v86 under Lockstep\'s V8 setting (src/ft/machine/jittier.ts: v86.wasm with V8\'s tiers, the JIT\'s modules in Liftoff alone), run in the same rounds as the row against plain v86 with V8\'s own tiers: the two rows part what the setting does from what Lockstep does.',
    }),
    compareRow({
      name: `${label}: start-up to the first guest instruction, \`lockstep run\` vs plain v86`,
      unit: 'ms',
      value: lockstep.map((run) => run.startupMs),
      baseline: plainStartup,
      baselineLabel: PLAIN,
      note: "Lower is faster. Lockstep: from spawn to the run loop's start (the firstInstruction mark of `lockstep run --json`'s startup); plain v86: from spawn to emulator-started. The phases are the rows below.",
    }),
    valueRow({
      name: 'start-up phase: exec and Node before its clock starts (spawn to performance.timeOrigin)',
      unit: 'ms',
      value: lockstep.map((run) => run.execMs),
      note: 'Spawn (through /usr/bin/time, for peak memory) to Node\'s time origin, which the phases below count from.',
    }),
    ...STARTUP_PHASES.map((phase) => valueRow({
      name: `start-up phase: ${phase} (${PHASE_LABELS[phase]}), CPU time`,
      unit: 'ms',
      value: lockstep.map((run) => run.phasesCpu[phase]),
      note: `The process's CPU time (all threads) from the end of the phase before to the ${phase} mark (src/ft/machine/startup.ts), same runs as the whole-process row; wall time ${median(lockstep.map((run) => run.phases[phase])).toFixed(1)} ms (median).`,
    })),
  ];
}

/** One V8 option on the same short run, alternated with the default. */
async function v8Option(ctx: BenchContext, option: string): Promise<RowInput> {
  const cmdline = 'iterations=1000';
  const { a: withOption, b: plainNode } = await alternate(
    ctx.pick(5, 1),
    () => runCli(cmdline, [option]),
    () => runCli(cmdline),
    { warmup: ctx.pick(1, 0), log: ctx.log, label: `start-up ${option}|default` },
  );
  const compiled = (runs: CliRun[]) => median(runs.map((run) => run.phasesCpu.wasmCompiled)).toFixed(1);
  // The phases' CPU times add up to the CPU time at the first instruction.
  const toFirst = (runs: CliRun[]) => runs.map((run) => STARTUP_PHASES.reduce((sum, p) => sum + run.phasesCpu[p], 0));
  return compareRow({
    name: `start-up to the first guest instruction, CPU time, node ${option} vs the default`,
    unit: 'ms',
    value: toFirst(withOption),
    baseline: toFirst(plainNode),
    baselineLabel: 'no V8 option',
    note: `Lower is faster. \`lockstep run spin\` (1000 iterations): the process's CPU time (all threads) to the first instruction. Compiling v86.wasm (the wasmCompiled phase): ${compiled(withOption)} ms of CPU with the option, ${compiled(plainNode)} ms without (medians). The whole short run: ${median(withOption.map((run) => run.cpuMs)).toFixed(0)} ms of CPU with the option, ${median(plainNode.map((run) => run.cpuMs)).toFixed(0)} ms without.`,
  });
}

export const startupBenchmark: BenchmarkModule = {
  name: 'startup',
  groups: ['machine'],
  description: '`lockstep run` vs plain v86 as whole processes on spin, start-up to the first instruction by phase, a V8 wasm option',
  run: async (ctx) => {
    const program = buildChildProgram(ctx.tmpDir);
    try {
      return [...(await wholeProcess(ctx, program)), await v8Option(ctx, '--wasm-lazy-compilation')];
    } finally {
      rmSync(program, { force: true });
    }
  },
};
