// Launch configurations of type `lockstep`: the attributes are described once, in launchSchema.json
// (which the extension's package.json uses for launch.json), and checked here against that schema
// and then for what a schema cannot say (files, images, attributes that exclude each other).
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { writeProblem } from '../ft/files';
import { BootRole, BUILTIN_GUESTS, diskProblem, LINUX_GUEST, resolveSpec, type DiskMode, type MachineSpec } from '../ft/machine';
import { DEFAULT_EPOCH_LENGTH } from '../ft/machine';
import { count } from './format';
import { DEFAULT_TAP_ADDRESS, type ClusterOptions, type TapOptions } from '../ft/cluster';
import { DEFAULT_VIEW_SERVICE, parseCoordinator } from '../ft/view';
import { DEFAULT_CHECKPOINT_MS, type CheckpointPolicy, type ReplicationMode } from '../ft/checkpoint';
import { DEFAULT_DETECTOR, type DetectorOptions } from '../ft/replication';
import launchSchema from './launchSchema.json';

export { launchSchema };

export type LaunchConfig =
  | ({
    kind: 'ft' | 'single';
    guest: string;
    clock: 'virtual' | 'host';
    jit: boolean;
    epochLength: number;
    record?: string;
    /** The host tap interface the guest's network card is plugged into (src/ft/cluster/tapbridge.ts). */
    tap?: TapOptions;
    /** The guest's disk (at most one): FILE, and how the hosts share it (docs/ft.md). */
    disks?: LaunchDisk[];
    /** An FT pair's replication: deterministic replay, or checkpoints (launch mode "checkpoint"). */
    mode?: ReplicationMode;
    checkpoint?: CheckpointPolicy;
    /** An FT pair's failure detector (`detectTimeout`, `heartbeat`), as `lockstep ft` takes it. */
    detector?: DetectorOptions;
    /** Host processes (`hosts`); with a view service (`views`), past 2 the others are idle spares. */
    hosts?: number;
    views?: ClusterOptions['views'];
  } & MachineSpec & Start)
  | ({
    kind: 'replay';
    log: string;
    image?: string;
    /** Where a local-mode recording's disk is now, as it was when the run started (`disks: [{ file }]`). */
    disk?: string;
  } & Omit<MachineSpec, 'guest'> & Start);

/** The attributes that name boot files, as errors about them call them. */
export const BOOT_ATTRIBUTES: Record<BootRole, string> = {
  image: "launch attribute 'image'",
  bios: "launch attribute 'bios'",
  'vga-bios': "launch attribute 'vgaBios'",
  initrd: "launch attribute 'initrd'",
};

export interface LaunchDisk { file: string; mode: DiskMode }

/** How a session starts, whatever it runs: stopped at instruction 0, run to `stopAt`, or running. */
export interface Start {
  stopOnEntry: boolean;
  stopAt?: number;
}

/** A launch attribute with a bad value; the message names it and says what was wrong. */
export class LaunchError extends Error {
  override name = 'LaunchError';
}

interface PropertySchema { type: string; enum?: string[]; minimum?: number; maximum?: number }

const PROPERTIES = launchSchema.properties as Record<string, PropertySchema>;

/** Attributes every DAP client or VS Code may add to any configuration. */
const GENERIC = new Set(['type', 'request', 'name', 'noDebug', 'preLaunchTask', 'postDebugTask', 'internalConsoleOptions', 'debugServer', 'presentation', 'suppressMultipleSessionWarning', 'cwd', 'env']);

/** The attributes of launch mode "checkpoint". */
const CHECKPOINT_ATTRIBUTES = ['checkpointMs', 'checkpointInstructions', 'checkpointCompress'] as const;

/** Attributes that describe a live run, which a log replay takes from its file instead. */
const LIVE_ONLY = [
  'guest', 'mode', 'clock', 'clockRate', 'jit', 'epochLength', 'memory', 'cmdline', 'record', 'tap', 'tapAddress',
  'detectTimeout', 'heartbeat', 'hosts', 'coordinator', ...CHECKPOINT_ATTRIBUTES,
];

/** What a view service cannot run with yet (as `lockstep ft --hosts` refuses them). */
const NOT_UNDER_VIEWS = ['record', 'disks', 'tap'] as const;

function fail(name: string, problem: string): never {
  throw new LaunchError(`launch attribute '${name}': ${problem}`);
}

/** Checks one value against its schema entry. */
function checkValue(name: string, value: unknown, schema: PropertySchema): void {
  const got = JSON.stringify(value);
  if (schema.type === 'string') {
    if (typeof value !== 'string') fail(name, `expected a string, got ${got}`);
    if (!value.trim()) fail(name, 'must not be empty');
    if (schema.enum && !schema.enum.includes(value)) fail(name, `expected one of ${schema.enum.map((e) => `"${e}"`).join(', ')}, got ${got}`);
  } else if (schema.type === 'boolean') {
    if (typeof value !== 'boolean') fail(name, `expected true or false, got ${got}`);
  } else if (schema.type === 'array') {
    if (!Array.isArray(value)) fail(name, `expected a list, got ${got}`);
  } else if (schema.type === 'integer') {
    const range = `from ${schema.minimum} to ${schema.maximum}`;
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) fail(name, `expected a whole number ${range}, got ${got}`);
    if (value < schema.minimum! || value > schema.maximum!) fail(name, `expected a whole number ${range}, got ${got}`);
  }
}

function checkReadable(name: string, path: string): void {
  try {
    accessSync(path, constants.R_OK);
  } catch {
    fail(name, `cannot read ${path}: ${existsSync(path) ? 'permission denied' : 'no such file'}`);
  }
  if (statSync(path).isDirectory()) fail(name, `${path} is a directory, not a file`);
}

function checkWritable(name: string, path: string): void {
  const problem = writeProblem(path);
  if (problem) fail(name, `cannot write ${path}: ${problem}`);
}

/** Reads the spec's files and checks what a machine made of them would be: one line naming the attribute. */
function checkMachine(spec: MachineSpec): void {
  try {
    resolveSpec(spec, BOOT_ATTRIBUTES);
  } catch (error) {
    const message = (error as Error).message;
    if (message.startsWith('launch attribute')) throw new LaunchError(message);
    // The image's own problems (not bootable, no such guest) and the machine's (memory, initrd, BIOS) name the guest.
    const attribute = /memory|MiB/.test(message) ? 'memory' : /BIOS/.test(message) ? 'bios' : 'guest';
    fail(attribute, message);
  }
}

/** Validates launch arguments; throws a LaunchError naming the first bad attribute. */
export function parseLaunch(args: unknown): LaunchConfig {
  if (!args || typeof args !== 'object' || Array.isArray(args)) throw new LaunchError(`launch arguments must be an object, got ${JSON.stringify(args)}`);
  const a = args as Record<string, unknown>;
  for (const [name, value] of Object.entries(a)) {
    if (GENERIC.has(name) || name.startsWith('__')) continue;
    const schema = PROPERTIES[name];
    if (!schema) fail(name, `unknown attribute (known: ${Object.keys(PROPERTIES).join(', ')})`);
    if (value !== undefined) checkValue(name, value, schema);
  }
  const start = parseStart(a);
  const at = relativeTo(a.cwd);
  if (a.log !== undefined) return parseReplay(a, start, at);
  if (a.image !== undefined) fail('image', 'goes with \'log\' (a replay); a live run names its image in \'guest\'');
  if (a.guest === undefined) fail('guest', `missing: name a built-in guest (${BUILTIN_GUESTS.join(', ')}) or an image path, or give 'log' to replay a recording`);
  const named = (BUILTIN_GUESTS as readonly string[]).includes(a.guest as string) || a.guest === LINUX_GUEST;
  const guest = named ? (a.guest as string) : at(a.guest as string);
  const memoryMiB = a.memory as number | undefined;
  const instructionsPerMs = a.clockRate === undefined ? undefined : (a.clockRate as number) * 1000;
  const cmdline = a.cmdline as string | undefined;
  const machine: MachineSpec = { guest, ...bootAttributes(a, at), memoryMiB, cmdline, instructionsPerMs };
  checkMachine(machine);
  const mode = (a.mode as 'ft' | 'checkpoint' | 'single' | undefined) ?? 'ft';
  const kind = mode === 'single' ? 'single' : 'ft';
  const record = a.record === undefined ? undefined : at(a.record as string);
  if (record !== undefined) {
    if (kind !== 'ft') fail('record', `records an FT pair's log; mode "${mode}" has no log`);
    checkWritable('record', record);
  }
  if (a.tapAddress !== undefined && a.tap === undefined) fail('tapAddress', "goes with 'tap' (the interface it is the host's address on)");
  const tapAddress = (a.tapAddress as string | undefined) ?? DEFAULT_TAP_ADDRESS;
  const tap = a.tap === undefined ? undefined : { name: a.tap as string, address: tapAddress };
  const disks = a.disks === undefined ? undefined : parseDisks(a.disks as unknown[], at);
  if (disks?.[0].mode === 'local' && mode !== 'ft') {
    fail('disks', mode === 'single'
      ? '\'mode\' "local" is for an FT pair (each host its own copy, FILE.host-N); mode "single" reads and writes FILE itself'
      : '\'mode\' "local" is for mode "ft": a checkpoint backup runs no guest to write its copy of the disk');
  }
  return {
    kind,
    ...machine,
    clock: (a.clock as 'virtual' | 'host' | undefined) ?? 'virtual',
    jit: (a.jit as boolean | undefined) ?? true,
    epochLength: (a.epochLength as number | undefined) ?? DEFAULT_EPOCH_LENGTH,
    record,
    ...(tap && { tap }),
    ...(disks && { disks }),
    ...replication(a),
    ...detection(a, kind),
    ...viewService(a),
    ...start,
  };
}

/**
 * `hosts` and `coordinator`, as `lockstep ft --hosts N --coordinator C`: past 2 hosts, or with a coordinator
 * named, a view service decides the roles. It declares a host dead after `detectTimeout` without its
 * pings: a debugger movement keeps a host as busy for the view service as for its peer.
 */
function viewService(a: Record<string, unknown>): { hosts?: number; views?: ClusterOptions['views'] } {
  if (a.coordinator !== undefined && a.hosts === undefined) fail('coordinator', "goes with 'hosts' (the hosts whose roles the view service decides)");
  if (a.hosts === undefined) return {};
  if (a.mode === 'single' || a.mode === 'checkpoint') fail('hosts', `goes with mode "ft" (a view service over replaying backups), not mode "${a.mode}"`);
  const hosts = a.hosts as number;
  const coordinator = a.coordinator === undefined ? undefined : coordinatorOf(a.coordinator as string);
  if (hosts === 2 && !coordinator) return { hosts };
  const clash = NOT_UNDER_VIEWS.find((name) => a[name] !== undefined);
  if (clash) fail(clash, "is not supported under a view service ('hosts' past 2, or 'coordinator') yet");
  const silentMs = (a.detectTimeout as number | undefined) ?? DEFAULT_DETECTOR.timeoutMs;
  const deadPings = Math.max(2, Math.ceil(silentMs / DEFAULT_VIEW_SERVICE.pingIntervalMs));
  return { hosts, views: { deadPings, ...(coordinator && { coordinator }) } };
}

/** `coordinator`: embedded or etcd://HOST:PORT[,…], said as the attribute's problem. */
function coordinatorOf(text: string): NonNullable<NonNullable<ClusterOptions['views']>['coordinator']> {
  try {
    return parseCoordinator(text);
  } catch (error) {
    return fail('coordinator', (error as Error).message.replace(/^--coordinator: /, ''));
  }
}

/** `detectTimeout` and `heartbeat`: an FT pair's failure detector, the heartbeat the shorter. */
function detection(a: Record<string, unknown>, kind: 'ft' | 'single'): { detector?: DetectorOptions } {
  const given = (['detectTimeout', 'heartbeat'] as const).find((name) => a[name] !== undefined);
  if (!given) return {};
  if (kind !== 'ft') fail(given, 'goes with an FT pair (mode "ft" or "checkpoint"): one machine has no peer to detect');
  const timeoutMs = (a.detectTimeout as number | undefined) ?? DEFAULT_DETECTOR.timeoutMs;
  const heartbeatMs = (a.heartbeat as number | undefined) ?? DEFAULT_DETECTOR.heartbeatMs;
  if (heartbeatMs >= timeoutMs) fail('heartbeat', `${heartbeatMs} ms must be shorter than 'detectTimeout' (${timeoutMs} ms)`);
  return { detector: { timeoutMs, heartbeatMs } };
}

/** `disks`: at most one `{ file, mode }`, FILE a disk image this session could use. */
function parseDisks(disks: unknown[], at: (path: string) => string): LaunchDisk[] {
  if (disks.length > 1) fail('disks', `a guest has one disk, got ${disks.length}`);
  return disks.map((disk) => {
    const { file, mode = 'shared', ...rest } = (disk ?? {}) as Record<string, unknown>;
    if (typeof disk !== 'object' || disk === null || Array.isArray(disk)) fail('disks', `expected { "file": PATH, "mode": "shared" | "local" }, got ${JSON.stringify(disk)}`);
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) fail('disks', `unknown key '${unknown}' (known: file, mode)`);
    if (typeof file !== 'string' || !file.trim()) fail('disks', `'file' must be the path of a disk image, got ${JSON.stringify(file)}`);
    if (mode !== 'shared' && mode !== 'local') fail('disks', `'mode' must be "shared" or "local", got ${JSON.stringify(mode)}`);
    const path = at(file);
    const problem = diskProblem(path);
    if (problem) fail('disks', `${path}: ${problem}`);
    return { file: path, mode };
  });
}

/** Launch mode "checkpoint": checkpoint replication and its policy; its attributes elsewhere are a mistake. */
function replication(a: Record<string, unknown>): { mode?: ReplicationMode; checkpoint?: CheckpointPolicy } {
  if (a.mode !== 'checkpoint') {
    const stray = CHECKPOINT_ATTRIBUTES.find((name) => a[name] !== undefined);
    if (stray) fail(stray, `goes with mode "checkpoint" (checkpoint replication), not mode "${(a.mode as string | undefined) ?? 'ft'}"`);
    return {};
  }
  const intervalMs = a.checkpointMs as number | undefined;
  const instructions = a.checkpointInstructions as number | undefined;
  if (intervalMs !== undefined && instructions !== undefined) fail('checkpointInstructions', "checkpoints at every epoch of this many instructions, so 'checkpointMs' cannot be given as well");
  if (instructions !== undefined && a.epochLength !== undefined) fail('checkpointInstructions', "sets the epoch length: leave out 'epochLength'");
  const compress = (a.checkpointCompress as boolean | undefined) ?? false;
  const when = instructions === undefined ? { intervalMs: intervalMs ?? DEFAULT_CHECKPOINT_MS } : { instructions };
  return { mode: 'checkpoint', checkpoint: { ...when, compress } };
}

/** The boot file attributes, as paths relative to the configuration's `cwd`. */
function bootAttributes(a: Record<string, unknown>, at: (path: string) => string): Pick<MachineSpec, 'bios' | 'vgaBios' | 'initrd'> {
  const path = (name: string) => (a[name] === undefined ? undefined : at(a[name] as string));
  return { bios: path('bios'), vgaBios: path('vgaBios'), initrd: path('initrd') };
}

function parseStart(a: Record<string, unknown>): Start {
  const stopOnEntry = (a.stopOnEntry as boolean | undefined) ?? false;
  const stopAt = a.stopAt as number | undefined;
  if (stopAt !== undefined && stopOnEntry) fail('stopAt', `stops the session at instruction ${count(stopAt)}, so 'stopOnEntry' (instruction 0) cannot be true as well`);
  return { stopOnEntry, stopAt };
}

/** Paths in a configuration are taken relative to its `cwd` when it has one (as DAP clients mean it). */
function relativeTo(cwd: unknown): (path: string) => string {
  if (cwd === undefined) return (path) => path;
  if (typeof cwd !== 'string' || !existsSync(cwd) || !statSync(cwd).isDirectory()) fail('cwd', `expected a directory, got ${JSON.stringify(cwd)}`);
  return (path) => (isAbsolute(path) ? path : resolve(cwd, path));
}

function parseReplay(a: Record<string, unknown>, start: Start, at: (path: string) => string): LaunchConfig {
  const clash = LIVE_ONLY.find((name) => a[name] !== undefined);
  if (clash) fail(clash, `does not apply to a log replay: the log file says how the run was recorded (remove '${clash}', or 'log' for a live run)`);
  const log = at(a.log as string);
  checkReadable('log', log);
  const image = a.image === undefined ? undefined : at(a.image as string);
  if (image !== undefined) checkReadable('image', image);
  const files = bootAttributes(a, at);
  for (const [name, path] of [['bios', files.bios], ['vgaBios', files.vgaBios], ['initrd', files.initrd]] as const) {
    if (path !== undefined) checkReadable(name, path);
  }
  const disk = a.disks === undefined ? undefined : replayDisk(a.disks as unknown[], at);
  return { kind: 'replay', log, image, ...files, ...(disk !== undefined && { disk }), ...start };
}

/**
 * `disks` in a log replay: where the disk a local-mode recording started with is now, `[{ "file": PATH }]`
 * (its mode is the log's; its hash is checked against the log's header when the replay starts).
 */
function replayDisk(disks: unknown[], at: (path: string) => string): string {
  if (disks.length !== 1) fail('disks', `a log replay takes the one disk its recording started with, got ${disks.length}`);
  const [disk] = disks;
  if (typeof disk !== 'object' || disk === null || Array.isArray(disk)) fail('disks', `expected { "file": PATH }, got ${JSON.stringify(disk)}`);
  const { file, ...rest } = disk as Record<string, unknown>;
  const other = Object.keys(rest)[0];
  if (other === 'mode') fail('disks', '\'mode\' does not apply to a log replay: the log says how its disk was shared');
  if (other !== undefined) fail('disks', `unknown key '${other}' (a log replay's disk takes 'file' alone)`);
  if (typeof file !== 'string' || !file.trim()) fail('disks', `'file' must be the path of a disk image, got ${JSON.stringify(file)}`);
  checkReadable('disks', at(file));
  return at(file);
}
