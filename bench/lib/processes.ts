// Whole-process runs of the peers: QEMU (plain TCG, record, replay) and the `lockstep` CLI (run, ft,
// replay), each under /usr/bin/time -v for its peak memory (for `lockstep ft`, a tree of three
// processes, that is the largest one's, not the tree's).
import { existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterSummary } from '../../src/ft/cluster';
import { BuiltinGuest } from '../../src/ft/machine';
import type { ReplayResult } from '../../src/ft/commands';
import { ProcessResult, TIME_BINARY, runProcess, which } from '../harness';
import { image } from './guests';

export const REPO = join(__dirname, '..', '..');
export const CLI = join(REPO, 'dist', 'cli.js');
export const QEMU = 'qemu-system-i386';

export const QEMU_INSTALL = 'qemu-system-i386 is not installed: apt-get install -y qemu-system-x86 (or, as root, scripts/install-bench-deps.sh)';
export const TIME_INSTALL = `${TIME_BINARY} is not installed, so peak memory is unknown: apt-get install -y time`;
export const CLI_MISSING = `${CLI} is missing: run npm run build first (npm run bench does)`;

export function qemuBinary(): string | undefined {
  return which(QEMU);
}

/** Version line of the installed QEMU, e.g. "QEMU 7.2.22". */
export async function qemuVersion(): Promise<string> {
  const result = await runProcess(QEMU, ['--version']);
  const match = result.stdout.match(/version ([\d.]+)/);
  return match ? `QEMU ${match[1]}` : 'QEMU';
}

export type QemuMode = 'plain' | 'record' | 'replay';

export interface QemuRun extends ProcessResult {
  /** Size of the record/replay file (record and replay modes). */
  rrBytes?: number;
}

/**
 * QEMU running a built-in multiboot guest, the way its record/replay documentation does it
 * (`-icount shift=auto,rr=record|replay,rrfile=F`; plain mode: TCG without icount). The guests end
 * in `cli; hlt`, which QEMU does not exit on, so the run ends with SIGTERM (QEMU's orderly shutdown,
 * which also completes the record file) as soon as `until` appears on the serial port (stdio).
 */
export async function runQemu(options: {
  guest: BuiltinGuest;
  cmdline: string;
  mode: QemuMode;
  rrFile?: string;
  until: RegExp;
  tmpDir: string;
  timeoutMs?: number;
}): Promise<QemuRun> {
  const pidFile = join(options.tmpDir, `qemu-${process.pid}.pid`);
  rmSync(pidFile, { force: true });
  const args = ['-kernel', image(options.guest).path, '-append', options.cmdline, '-m', '32'];
  if (options.mode !== 'plain') {
    if (!options.rrFile) throw new Error('record/replay needs an rr file');
    if (options.mode === 'record') rmSync(options.rrFile, { force: true });
    args.push('-icount', `shift=auto,rr=${options.mode},rrfile=${options.rrFile}`);
  }
  args.push('-display', 'none', '-serial', 'stdio', '-no-reboot', '-pidfile', pidFile);
  const result = await runProcess(QEMU, args, {
    until: options.until,
    pidFile,
    timeoutMs: options.timeoutMs ?? 300_000,
  });
  if (!result.matched) {
    throw new Error(`QEMU ${options.mode} of ${options.guest} ended without ${options.until} (exit ${result.exitCode ?? result.signal}): ${result.stderr.slice(-400)}`);
  }
  const rrBytes = options.rrFile && existsSync(options.rrFile) ? statSync(options.rrFile).size : undefined;
  return { ...result, rrBytes };
}

/** A whole `lockstep ... --json` process and the summary its last stdout line holds. */
export interface CliRun<Summary> extends ProcessResult {
  /** The --json summary line. */
  summary: Summary;
}

export type LockstepProcessRun = CliRun<{
  instructions: number;
  serial: string;
  wallMs: number;
  mips: number;
  end: string;
}>;
/** `lockstep ft --json` prints the cluster's summary. */
export type FtProcessRun = CliRun<ClusterSummary>;
/** `lockstep replay --json` prints the replay result without its recorded events and epoch records. */
export type ReplayProcessRun = CliRun<Omit<ReplayResult, 'recorded' | 'epochs'>>;

/**
 * Runs the built CLI with `args` (which include --json) as a whole process; fails unless it exits 0 with a JSON
 * line.
 */
async function runCliJson<Summary>(args: string[], timeoutMs: number): Promise<CliRun<Summary>> {
  const result = await runProcess(process.execPath, [CLI, ...args], { timeoutMs });
  const line = result.stdout.trim().split('\n').at(-1) ?? '';
  if (result.exitCode !== 0 || !line.startsWith('{')) {
    throw new Error(`lockstep ${args.slice(0, 2).join(' ')} failed (exit ${result.exitCode ?? result.signal}): ${result.stderr.slice(-400)}`);
  }
  return { ...result, summary: JSON.parse(line) };
}

/** `lockstep run GUEST --json` from the built CLI, as a whole process. */
export function runLockstepCli(
  guest: BuiltinGuest,
  extraArgs: string[],
  timeoutMs = 300_000,
): Promise<LockstepProcessRun> {
  return runCliJson(['run', guest, '--json', ...extraArgs], timeoutMs);
}

/**
 * `lockstep ft GUEST --record FILE --json` from the built CLI, as a whole process: it starts a primary
 * and a backup host process and exits once the primary's guest has ended and both are stopped.
 */
export function runLockstepFtCli(
  guest: BuiltinGuest,
  recordFile: string,
  extraArgs: string[],
  timeoutMs = 300_000,
): Promise<FtProcessRun> {
  // A failed run must not leave a previous cycle's file behind for the replay to time.
  rmSync(recordFile, { force: true });
  return runCliJson(['ft', guest, '--record', recordFile, '--json', ...extraArgs], timeoutMs);
}

/** `lockstep replay FILE --json` from the built CLI, as a whole process (it exits 1 when an epoch hash differs). */
export function runLockstepReplayCli(file: string, timeoutMs = 300_000): Promise<ReplayProcessRun> {
  return runCliJson(['replay', file, '--json'], timeoutMs);
}
