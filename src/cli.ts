// The `lockstep` command line. Each command parses its options here and calls into src/ft/.
import { parseArgs, ParseArgsConfig } from 'node:util';
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { extname, join as joinPath } from 'node:path';
import { BUILTIN_GUESTS, DEFAULT_EPOCH_LENGTH, MAX_CLOCK_RATE_PER_US, DiskFile, DiskMode, markStartup, openLockedDisk, resolveSpec, type MachineSpec } from './ft/machine';
import { DEMO_DETECT_TIMEOUT_MS, DEMO_EPOCH_LENGTH, DEMO_GUESTS, DemoGuest, describeDemo, describeView, InputScript, replayLogFile, runDemo, runGuest } from './ft/commands';
import { DEFAULT_DETECTOR, type ServiceAddress } from './ft/replication';
import { asError, isUserError, writeProblem } from './ft/files';
import {
  Cluster,
  type ClusterOptions,
  describeChannel,
  describeRoleChange,
  parseFault,
  runHostAgent,
  runHostProcess,
  DEFAULT_TAP_ADDRESS,
} from './ft/cluster';
import { checkKvHistory, runKvWorkload } from './ft/workload';
import { DEFAULT_CHECKPOINT_MS, REPLICATION_MODES, type CheckpointPolicy, type ReplicationMode } from './ft/checkpoint';
import { LogFormatError, recoverRecording, unjoinedSegments } from './ft/log';
import { parseCoordinator, type CoordinatorSpec } from './ft/view';
import { USAGE } from './usage';

/** `lockstep run`'s guest randomness unless --seed says otherwise: two runs of the same inputs are identical. */
const DEFAULT_RUN_SEED = 1;

export class UsageError extends Error {
  override name = 'UsageError';
}

/** A whole number in range, or a UsageError naming the option. */
export function integerOption(
  name: string,
  text: string | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (text === undefined) return undefined;
  const normalized = text.replace(/_/g, '');
  const value = /^\d+(e\d+)?$/i.test(normalized) ? Number(normalized) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name}: expected a whole number from ${min} to ${max}, got '${text}'`);
  }
  return value;
}

type Values = Record<string, string | boolean | undefined>;

function parse(args: string[], options: ParseArgsConfig['options']): { values: Values; positionals: string[] } {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true }) as {
      values: Values;
      positionals: string[];
    };
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\s*\n\s*/g, ' '));
  }
}

/** A UsageError unless `path` is a file that can be read. */
function checkReadableFile(name: string, path: string): void {
  try {
    accessSync(path, constants.R_OK);
    if (statSync(path).isDirectory()) throw Object.assign(new Error(), { code: 'EISDIR' });
  } catch (error) {
    throw new UsageError(`--${name}: cannot read ${path}: ${fileProblem(error)}`);
  }
}

/** A UsageError unless a file can be written at `path`. */
function checkWritablePath(name: string, path: string): void {
  const problem = writeProblem(path);
  if (problem) throw new UsageError(`--${name}: cannot write ${path}: ${problem}`);
}

function fileProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'it is a directory';
  if (code === 'EACCES') return 'permission denied';
  return (error as Error).message;
}

/** The boot files by path: run, ft, demo and replay take them (replay: in place of those its log names). */
const BOOT_FILE_OPTIONS = {
  bios: { type: 'string' },
  'vga-bios': { type: 'string' },
  initrd: { type: 'string' },
} as const;

/** The machine's options, one definition for every command that starts machines (run, ft, demo): a MachineSpec. */
const MACHINE_OPTIONS = {
  ...BOOT_FILE_OPTIONS,
  clock: { type: 'string', default: 'virtual' },
  'clock-rate': { type: 'string' },
  'no-jit': { type: 'boolean', default: false },
  memory: { type: 'string' },
  epoch: { type: 'string' },
  cmdline: { type: 'string' },
} as const;

function bootFiles(values: Values): Pick<MachineSpec, 'bios' | 'vgaBios' | 'initrd'> {
  return { bios: values.bios as string | undefined, vgaBios: values['vga-bios'] as string | undefined, initrd: values.initrd as string | undefined };
}

/** --clock-rate N: the virtual clock's rate in instructions per µs, as the machine takes it (per ms). */
function clockRate(text: string | undefined): number | undefined {
  const perMicrosecond = integerOption('clock-rate', text, 1, MAX_CLOCK_RATE_PER_US);
  return perMicrosecond === undefined ? undefined : perMicrosecond * 1000;
}

/** MACHINE_OPTIONS' values as the spec of a machine booting `guest`; memory and cmdline unset take the guest's own. */
function machineSpec(guest: string, values: Values): MachineSpec & Required<Pick<MachineSpec, 'clock' | 'jit' | 'epochLength'>> {
  const clock = values.clock as string;
  if (clock !== 'virtual' && clock !== 'host') throw new UsageError(`--clock: expected virtual or host, got '${clock}'`);
  return {
    guest,
    ...bootFiles(values),
    clock,
    instructionsPerMs: clockRate(values['clock-rate'] as string | undefined),
    jit: !values['no-jit'],
    memoryMiB: integerOption('memory', values.memory as string | undefined, 4, 2048),
    epochLength: integerOption('epoch', values.epoch as string | undefined, 100_000) ?? DEFAULT_EPOCH_LENGTH,
    cmdline: values.cmdline as string | undefined,
  };
}

async function run(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    ...MACHINE_OPTIONS,
    'max-instructions': { type: 'string' },
    seed: { type: 'string', default: String(DEFAULT_RUN_SEED) },
    input: { type: 'string' },
    'clone-at': { type: 'string' },
    'snapshot-at': { type: 'string' },
    'snapshot-file': { type: 'string' },
    'from-snapshot': { type: 'string' },
    json: { type: 'boolean', default: false },
    ...DISK_OPTIONS,
  });
  if (positionals.length !== 1) throw new UsageError(`run: expected one guest (${BUILTIN_GUESTS.join(', ')}) or image path, got ${positionals.length}`);
  const spec = machineSpec(positionals[0], values);
  const snapshotAt = integerOption('snapshot-at', values['snapshot-at'] as string | undefined, 0);
  if ((snapshotAt === undefined) !== (values['snapshot-file'] === undefined)) {
    throw new UsageError('--snapshot-at and --snapshot-file go together');
  }
  if (values['snapshot-file'] !== undefined) checkWritablePath('snapshot-file', values['snapshot-file'] as string);
  if (values['from-snapshot'] !== undefined) checkReadableFile('from-snapshot', values['from-snapshot'] as string);
  const json = values.json as boolean;
  if (diskMode(values) === 'local') {
    throw new UsageError('--disk-mode local is for lockstep ft (each host its own copy, FILE.host-N): lockstep run has one host, which reads and writes FILE itself');
  }
  const disk = openDisk(values);
  const result = await runGuest({
    ...resolveSpec(spec).settings,
    maxInstructions: integerOption('max-instructions', values['max-instructions'] as string | undefined, 1),
    input: values.input ? InputScript.fromFile(values.input as string) : undefined,
    cloneAt: integerOption('clone-at', values['clone-at'] as string | undefined, 0),
    seed: integerOption('seed', values.seed as string, 0, 0xffffffff),
    snapshotTo: snapshotAt === undefined ? undefined : { at: snapshotAt, path: values['snapshot-file'] as string },
    fromSnapshot: values['from-snapshot'] as string | undefined,
    onSerial: json ? undefined : (data) => process.stdout.write(data),
    disk: disk && { size: disk.file.size, mode: disk.mode, file: disk.file },
  }).finally(() => disk?.close());
  if (json) {
    const { recorded, epochs, ...summary } = result;
    process.stdout.write(`${JSON.stringify({ ...summary, inputs: recorded.filter((e) => e.kind === 'input').length })}\n`);
  } else if (result.end === 'limit') {
    process.stderr.write(`lockstep: stopped at the instruction limit (${result.instructions})\n`);
  } else if (result.end === 'exited') {
    process.stderr.write(`lockstep: the guest exited with code ${result.exitCode} (isa-debug-exit, port 0xF4)\n`);
  }
}

const DISK_OPTIONS = {
  disk: { type: 'string', multiple: true },
  'disk-mode': { type: 'string', default: 'shared' },
} as const;

/** --disk-mode, checked (it means something only with --disk). */
function diskMode(values: Values): DiskMode | undefined {
  const mode = values['disk-mode'] as string;
  if (mode !== 'shared' && mode !== 'local') throw new UsageError(`--disk-mode: expected shared or local, got '${mode}'`);
  const disks = (values.disk as unknown as string[] | undefined) ?? [];
  if (disks.length > 1) {
    const same = realpathOf(disks[0]) === realpathOf(disks[1]);
    throw new UsageError(same ? `--disk ${disks[1]} is given twice: the same file cannot be two disks` : `--disk is given ${disks.length} times: a guest has one disk`);
  }
  return disks.length ? mode : undefined;
}

function realpathOf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** The --disk FILE, checked, locked for this run and open; nothing written until the guest writes. */
function openDisk(values: Values): { file: DiskFile; mode: DiskMode; close: () => void } | undefined {
  const mode = diskMode(values);
  if (!mode) return undefined;
  return { ...openLockedDisk((values.disk as unknown as string[])[0]), mode };
}

function address(option: string, text: string): ServiceAddress {
  const match = /^([^:]+):(\d+)$/.exec(text);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw new UsageError(`--${option}: expected HOST:PORT, got '${text}'`);
  return { host: match[1], port };
}

/** A machine spec whose files every host can read: checked here, before any host is started. */
function checkedSpec(guest: string, values: Values): ReturnType<typeof machineSpec> {
  const spec = machineSpec(guest, values);
  resolveSpec(spec);
  return spec;
}

const REPLICATION_OPTIONS = {
  mode: { type: 'string', default: 'replay' },
  'checkpoint-ms': { type: 'string' },
  'checkpoint-instructions': { type: 'string' },
  'checkpoint-compress': { type: 'boolean', default: false },
} as const;

/** --mode and its checkpoint options, checked together. */
function replicationOptions(values: Values): { mode: ReplicationMode; checkpoint?: CheckpointPolicy } {
  const mode = values.mode as ReplicationMode;
  if (!REPLICATION_MODES.includes(mode)) throw new UsageError(`--mode: expected ${REPLICATION_MODES.join(' or ')}, got '${values.mode}'`);
  const intervalMs = integerOption('checkpoint-ms', values['checkpoint-ms'] as string | undefined, 1, 3_600_000);
  const instructions = integerOption('checkpoint-instructions', values['checkpoint-instructions'] as string | undefined, 100_000);
  const given = ['checkpoint-ms', 'checkpoint-instructions', 'checkpoint-compress'].filter((name) => values[name] !== undefined && values[name] !== false);
  if (mode === 'replay') {
    if (given.length) throw new UsageError(`--${given[0]} is for --mode checkpoint`);
    return { mode };
  }
  if (intervalMs !== undefined && instructions !== undefined) throw new UsageError('--checkpoint-ms and --checkpoint-instructions: give one of them');
  if (instructions !== undefined && values.epoch !== undefined) throw new UsageError('--checkpoint-instructions sets the epoch length: leave out --epoch');
  const compress = values['checkpoint-compress'] as boolean;
  const when = instructions === undefined ? { intervalMs: intervalMs ?? DEFAULT_CHECKPOINT_MS } : { instructions };
  return { mode, checkpoint: { ...when, compress } };
}

async function ft(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    ...MACHINE_OPTIONS,
    ...DISK_OPTIONS,
    json: { type: 'boolean', default: false },
    service: { type: 'string' },
    fault: { type: 'string', multiple: true },
    record: { type: 'string' },
    'detect-timeout': { type: 'string' },
    heartbeat: { type: 'string' },
    'no-restore': { type: 'boolean', default: false },
    agent: { type: 'string', multiple: true },
    'agent-token': { type: 'string' },
    duration: { type: 'string' },
    'max-instructions': { type: 'string' },
    verbose: { type: 'boolean', default: false },
    hosts: { type: 'string' },
    coordinator: { type: 'string' },
    'ping-interval': { type: 'string' },
    'dead-pings': { type: 'string' },
    backups: { type: 'string' },
    tap: { type: 'string' },
    'tap-address': { type: 'string' },
    ...REPLICATION_OPTIONS,
  });
  if (positionals.length !== 1) throw new UsageError(`ft: expected one guest (${BUILTIN_GUESTS.join(', ')}) or image path`);
  const faults = ((values.fault as unknown as string[] | undefined) ?? []).map(parseFault);
  const timeoutMs = integerOption('detect-timeout', values['detect-timeout'] as string | undefined, 10, 600_000);
  const heartbeatMs = integerOption('heartbeat', values.heartbeat as string | undefined, 1, 60_000);
  const detector = { ...DEFAULT_DETECTOR, ...(timeoutMs && { timeoutMs }), ...(heartbeatMs && { heartbeatMs }) };
  // A peer heard from less often than the timeout is always suspected.
  if (detector.heartbeatMs >= detector.timeoutMs) throw new UsageError(`--heartbeat ${detector.heartbeatMs} ms must be shorter than the detection timeout (--detect-timeout, ${detector.timeoutMs} ms)`);
  const duration = integerOption('duration', values.duration as string | undefined, 1);
  const maxInstructions = integerOption('max-instructions', values['max-instructions'] as string | undefined, 1);
  if (values.record !== undefined) checkWritablePath('record', values.record as string);
  const agents = (values.agent as unknown as string[] | undefined)?.map((a) => address('agent', a));
  const agentToken = (values['agent-token'] as string | undefined) ?? process.env.LOCKSTEP_AGENT_TOKEN;
  if (agents && !agentToken) throw new UsageError('--agent needs --agent-token T (or LOCKSTEP_AGENT_TOKEN): the token each agent was started with');
  if (!agents && values['agent-token'] !== undefined) throw new UsageError('--agent-token is for --agent HOST:PORT (hosts run as agents); without --agent the hosts are child processes');
  if (values.tap === undefined && values['tap-address'] !== undefined) throw new UsageError('--tap-address is for --tap IFNAME');
  const tap = values.tap === undefined ? undefined : { name: values.tap as string, address: (values['tap-address'] as string | undefined) ?? DEFAULT_TAP_ADDRESS };
  const spec = checkedSpec(positionals[0], values);
  if (diskMode(values) === 'local' && values.mode === 'checkpoint') {
    throw new UsageError('--disk-mode local is for --mode replay: a checkpoint backup runs no guest to write its copy of the disk');
  }
  const { hosts, views } = viewOptions(values);
  if (views) refuseUnderViews(values);
  const disk = openDisk(values);
  try {
    if (disk && values.record !== undefined && realpathOf(values.record as string) === realpathOf(disk.file.path)) {
      throw new UsageError(`--record ${values.record as string} is the --disk: record to another file`);
    }
    await runCluster(values, {
      ...spec,
      // The hosts open FILE themselves; this process holds its lock for the whole run.
      disk: disk && { ...disk.file.identity(), mode: disk.mode },
      faults, detector, duration, maxInstructions, agents, agentToken, tap, hosts, views,
    });
  } finally {
    disk?.close();
  }
}

async function runCluster(
  values: Values,
  options: ConstructorParameters<typeof Cluster>[0] & { duration?: number },
): Promise<void> {
  const { duration, maxInstructions, tap } = options;
  const cluster = new Cluster({
    ...options,
    service: values.service ? address('service', values.service as string) : undefined,
    record: values.record as string | undefined,
    restoreRedundancy: !values['no-restore'],
    verbose: values.verbose as boolean,
    ...replicationOptions(values),
  });
  const say = (line: string) => { if (!values.json) process.stderr.write(`lockstep: ${line}\n`); };
  cluster.on('role-change', (c) => say(describeRoleChange(c, true)));
  cluster.on('view', (v) => say(describeView(v)));
  cluster.on('divergence', (d) => say(`DIVERGENCE at epoch ${d.epoch} (instruction ${d.at}): pages ${d.pages.join(', ') || '?'} ${d.parts.join(', ')}${d.blocks?.length ? ` disk blocks ${d.blocks.join(', ')}` : ''}`));
  await cluster.start();
  say(`service at ${cluster.service.host}:${cluster.service.port}${tap ? `, on tap ${tap.name} (${tap.address})` : ''}; press Ctrl-C to stop`);
  let stopping = false;
  await new Promise<void>((resolve) => {
    const stop = () => {
      stopping = true;
      resolve();
    };
    cluster.on('guest-ended', stop);
    cluster.on('host-exit', () => {
      // Hosts exit when the cluster stops, too: only a death before that leaves the service without one.
      if (stopping || cluster.anyHostAlive) return;
      say('no host is alive any more: nothing can run the guest again');
      process.exitCode = 1;
      stop();
    });
    if (duration) setTimeout(stop, duration);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    if (maxInstructions) {
      const poll = setInterval(async () => {
        const stats = await cluster.statsOf('primary');
        if (stats && stats.instructions >= maxInstructions) { clearInterval(poll); stop(); }
      }, 200);
    }
  });
  const summary = await cluster.stop();
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    say(`${summary.failovers.length} failover(s); ${describeChannel(summary)}`);
    say(Cluster.describeEnd(summary.end));
  }
}

/**
 * --hosts, --coordinator, --ping-interval, --dead-pings, --backups: whether a view service decides the roles, and
 * how.
 */
function viewOptions(values: Record<string, unknown>): Pick<ClusterOptions, 'hosts' | 'views'> {
  const hosts = integerOption('hosts', values.hosts as string | undefined, 2, 64);
  const given = values.coordinator as string | undefined;
  const coordinator = given === undefined ? undefined : coordinatorOption(given);
  const pingIntervalMs = integerOption('ping-interval', values['ping-interval'] as string | undefined, 10, 60_000);
  const deadPings = integerOption('dead-pings', values['dead-pings'] as string | undefined, 2, 1000);
  const backups = integerOption('backups', values.backups as string | undefined, 1, 63);
  if (backups !== undefined && backups + 1 > (hosts ?? 2)) {
    throw new UsageError(`--backups ${backups} needs --hosts ${backups + 1} or more (a primary and ${backups} backup(s)), got --hosts ${hosts ?? 2}`);
  }
  const tuned = pingIntervalMs !== undefined || deadPings !== undefined || backups !== undefined;
  const wanted = (hosts ?? 2) > 2 || coordinator !== undefined || tuned;
  if (!wanted) return { hosts };
  const tuning = { ...(pingIntervalMs && { pingIntervalMs }), ...(deadPings && { deadPings }) };
  return { hosts, views: { ...tuning, ...(backups && { backups }), coordinator } };
}

function coordinatorOption(text: string): CoordinatorSpec {
  try {
    return parseCoordinator(text);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** What a view service cannot run with yet: one line naming the option. */
function refuseUnderViews(values: Values): void {
  const unsupported = ['record', 'disk', 'tap'].find((name) => values[name] !== undefined)
    ?? (values.mode === 'checkpoint' ? 'mode checkpoint' : undefined);
  if (unsupported) {
    throw new UsageError(`--${unsupported} is not supported under a view service (--hosts past 2, --coordinator) yet`);
  }
}

async function host(args: string[]): Promise<void> {
  const { values } = parse(args, { listen: { type: 'string' }, token: { type: 'string' } });
  if (values.listen === undefined) runHostProcess();
  else {
    const token = (values.token as string | undefined) ?? process.env.LOCKSTEP_AGENT_TOKEN;
    if (!token) throw new UsageError('host --listen needs --token T (or LOCKSTEP_AGENT_TOKEN): the cluster must present it');
    const listen = address('listen', values.listen as string);
    const port = await runHostAgent(listen, token);
    process.stderr.write(`lockstep: host agent listening on ${listen.host}:${port}\n`);
  }
  await new Promise(() => undefined);
}

async function client(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    connect: { type: 'string' },
    ops: { type: 'string', default: '200' },
    seed: { type: 'string', default: '1' },
    clients: { type: 'string', default: '4' },
    'first-client': { type: 'string', default: '1' },
    via: { type: 'string', default: 'serial' },
    json: { type: 'boolean', default: false },
  });
  if (values.via !== 'serial' && values.via !== 'net') throw new UsageError(`client: --via must be serial or net, got '${values.via}'`);
  if (positionals[0] !== 'kv' || positionals.length !== 1) throw new UsageError('client: the only workload is \'kv\' (lockstep client kv --connect HOST:PORT)');
  if (!values.connect) throw new UsageError('client: --connect HOST:PORT is required');
  const history = await runKvWorkload({
    service: address('connect', values.connect as string),
    ops: integerOption('ops', values.ops as string, 1)!,
    seed: integerOption('seed', values.seed as string, 0)!,
    clients: integerOption('clients', values.clients as string, 1, 64)!,
    firstClient: integerOption('first-client', values['first-client'] as string, 1)!,
    transport: values.via,
  });
  const check = checkKvHistory(history);
  if (values.json) process.stdout.write(`${JSON.stringify({ ...check, reconnects: history.reconnects, resends: history.resends, duplicateReplies: history.duplicateReplies, wallMs: history.wallMs })}\n`);
  else for (const line of [`acknowledged ${check.acknowledged}, lost ${check.lost}, duplicated ${check.duplicated}, inconsistent ${check.inconsistentReads}`, ...check.problems]) process.stdout.write(`${line}\n`);
  if (!check.ok) process.exitCode = 1;
}

async function demo(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    ...MACHINE_OPTIONS,
    guest: { type: 'string', default: 'kv' },
    ops: { type: 'string', default: '400' },
    seed: { type: 'string', default: '42' },
    mode: REPLICATION_OPTIONS.mode,
    hosts: { type: 'string' },
    'ping-interval': { type: 'string' },
    'dead-pings': { type: 'string' },
    backups: { type: 'string' },
    coordinator: { type: 'string' },
    kills: { type: 'string', default: '1' },
    'detect-timeout': { type: 'string' },
    json: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  });
  if (positionals.length) throw new UsageError(`demo takes no arguments, got ${positionals.map((p) => `'${p}'`).join(' ')}`);
  const guest = values.guest as DemoGuest;
  if (!DEMO_GUESTS.includes(guest)) throw new UsageError(`demo: --guest must be ${DEMO_GUESTS.join(' or ')}, got '${guest}'`);
  const ops = integerOption('ops', values.ops as string, 20)!;
  const { hosts, views } = viewOptions(values);
  const kills = integerOption('kills', values.kills as string, 1, 100)!;
  if (views && values.mode === 'checkpoint') throw new UsageError('demo: --mode checkpoint is not supported under a view service (--hosts past 2) yet');
  const print = values.json ? () => undefined : (line: string) => process.stdout.write(`${line}\n`);
  const { mode } = replicationOptions(values);
  const {
    mode: _mode, hosts: _hosts, kills: _kills, json: _json, 'ping-interval': _ping, 'dead-pings': _dead, backups: _backups,
    coordinator: _coordinator, 'detect-timeout': _timeout, verbose: _verbose, ...machineValues
  } = values;
  // The kv guest's epochs are short, for clones every half second; Linux's hash 256 MiB each.
  const epoch = String(guest === 'linux' ? DEFAULT_EPOCH_LENGTH : DEMO_EPOCH_LENGTH);
  const machine = checkedSpec(guest, { epoch, ...machineValues });
  const seed = integerOption('seed', values.seed as string, 0)!;
  const detectTimeoutMs = integerOption('detect-timeout', values['detect-timeout'] as string | undefined, 10, 600_000)
    ?? DEMO_DETECT_TIMEOUT_MS[guest];
  const result = await runDemo({
    machine, ops, killAfterOps: Math.floor(ops / (kills + 2)), seed, clients: 4, detectTimeoutMs, mode, hosts, views,
    kills, verbose: values.verbose as boolean, print,
  });
  const { check, kills: done, summary } = result;
  if (values.json) process.stdout.write(`${JSON.stringify({ check, kills: done, ...summary })}\n`);
  else describeDemo(result).forEach(print);
  const everyKillFailedOver = done.length === kills && done.every((kill) => kill.failoverMs !== undefined);
  if (!check.ok || !everyKillFailedOver) process.exitCode = 1;
}

async function replay(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { ...BOOT_FILE_OPTIONS, disk: { type: 'string' }, json: { type: 'boolean', default: false } });
  if (positionals.length < 1 || positionals.length > 2) throw new UsageError('replay: expected FILE.ftlog and optionally the guest image');
  // The host files of a run cut short hold what FILE lacks: say so first, whatever the replay finds.
  const unjoined = await unjoinedSegments(positionals[0]).catch(() => []);
  if (unjoined.length) process.stderr.write(`lockstep: ${unjoined.join(', ')} of the same run lie beside it: this is not the whole recording until \`lockstep join ${positionals[0]}\`\n`);
  const given = { image: positionals[1], disk: values.disk as string | undefined, ...bootFiles(values) };
  const result = await namingTheFile(positionals[0], replayLogFile(positionals[0], given));
  const { recorded, epochs, ...summary } = result;
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    process.stdout.write(result.serial);
    process.stderr.write(`lockstep: replayed ${result.entries} entries to instruction ${result.instructions}; ${result.epochsMatched} epoch hashes match, ${result.epochMismatches.length} differ\n`);
  }
  if (result.fileError) process.stderr.write(`lockstep: the log file is damaged: ${result.fileError}; replayed the good part\n`);
  else if (result.ended === 'killed') process.stderr.write('lockstep: its run was killed: `lockstep join` recovered what its hosts had written, and the run went on past its end\n');
  else if (!result.complete) process.stderr.write('lockstep: the log file has no end entry: its recording may be cut short (a recording closed cleanly ends with one; `lockstep join` ends a killed run\'s)\n');
  // A file that may lack entries must not pass for whole; one that join explains as a killed run may.
  if (result.epochMismatches.length || result.fileError || !(result.complete || result.ended === 'killed')) process.exitCode = 1;
}

/** A log file's bad header says where the bad byte is, not which file: this says that too. */
async function namingTheFile<T>(path: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof LogFormatError) error.message = `${path}: ${error.message}`;
    throw error;
  }
}

async function join(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, { json: { type: 'boolean', default: false } });
  if (positionals.length !== 1) throw new UsageError('join: expected one recording, FILE.ftlog');
  const result = await namingTheFile(positionals[0], recoverRecording(positionals[0]));
  if (values.json) return void process.stdout.write(`${JSON.stringify(result)}\n`);
  const alone = result.removed.length + result.kept.length === 0;
  const joined = alone ? 'no host files of its run beside it' : `joined ${result.joined.join(' + ')}; removed ${result.removed.length} host file(s)`;
  const ending = { killed: 'it ends with an end entry saying its run was killed', closed: 'it was closed cleanly: nothing to do' };
  const what = `${joined}; ${result.ended ? ending[result.ended] : 'left as it is'}`;
  process.stderr.write(`lockstep: ${positionals[0]}: ${what}\n`);
  for (const { path, reason } of result.unreadable) process.stderr.write(`lockstep: left ${path} alone: its header cannot be read (${reason})\n`);
  for (const { path, reason } of result.kept) process.stderr.write(`lockstep: kept ${path}: ${reason}\n`);
  for (const { path, reason } of result.damaged) process.stderr.write(`lockstep: ${path} is damaged (${reason}): only the entries before that were read\n`);
  // Something of the run is not in the recording: a script must not take it for whole.
  if (result.kept.length || result.damaged.length) process.exitCode = 1;
}

type AdapterServer = typeof import('./adapter/server');

/**
 * The adapter and its disassembler (iced-x86: half of the CLI's code) are a bundle of their own beside the CLI's,
 * dist/dap.js (scripts/build.mjs): every other command starts without reading and compiling them. The path is
 * one esbuild cannot follow, so the adapter stays out of dist/cli.js.
 */
function loadAdapter(): Promise<AdapterServer> {
  const entry = extname(__filename) === '.ts' ? './adapter/server' : joinPath(__dirname, 'dap.js');
  return import(entry) as Promise<AdapterServer>;
}

async function dap(args: string[]): Promise<void> {
  const { values } = parse(args, { port: { type: 'string' } });
  const { runStdio, serveTcp, serverPort } = await loadAdapter();
  const port = integerOption('port', values.port as string | undefined, 0, 65535);
  if (port === undefined) runStdio();
  else process.stderr.write(`lockstep dap: listening on 127.0.0.1:${serverPort(await serveTcp(port))}\n`);
  await new Promise(() => undefined);
}

const COMMANDS: Record<string, (args: string[]) => Promise<void>> = { run, ft, host, client, demo, replay, join, dap };

export async function main(argv: string[]): Promise<number> {
  markStartup('modules');
  const [command, ...args] = argv;
  const help = ['--help', '-h', 'help'];
  // `lockstep ft --help` too; after `--` a "--help" is a positional, not a request for help.
  const end = args.indexOf('--');
  const asksForHelp = help.includes(command) || (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
  if (!command || asksForHelp) {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  const handler = COMMANDS[command];
  try {
    if (!handler) throw new UsageError(`unknown command '${command}' (commands: ${Object.keys(COMMANDS).join(', ')}; lockstep --help says more)`);
    await handler(args);
    // A command that finished but found a problem (epoch hashes that differ, a check that failed) set it.
    return Number(process.exitCode ?? 0);
  } catch (error) {
    const err = asError(error);
    // Bad input (an option, a file, a busy address) says what was wrong; a bug's stack helps.
    const expected = isUserError(err);
    process.stderr.write(`lockstep: ${expected ? err.message : err.stack ?? err.message}\n`);
    return expected ? 2 : 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
