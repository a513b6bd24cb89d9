// Fault injection: the one list of fault kinds, and the CLI's spelling of them (`--fault KIND@WHEN`).
// Everything that names fault kinds derives from FAULT_KINDS: the types, the CLI's help and parser,
// the debug adapter's checks (src/adapter), the extension's "Inject fault…" menu and the panel's
// buttons (src/extension). The panel is a browser bundle that imports this file directly: it must
// import nothing (no node modules, no other file).

interface FaultArgumentInfo {
  /** Its name in help: kill-primary@N|T. */
  symbol: string;
  means: string;
  /** A value's range; an argument without one is a time (from the debugger, a fault happens now). */
  range?: { min: number; max: number; whole: boolean };
  /** The value the debugger takes when it is not given one. */
  fallback?: number;
}

/** What follows a fault's @ on the command line, and (for a value) what the debugger takes. */
export const FAULT_ARGUMENTS = {
  when: { symbol: 'N|T', means: 'an instruction count or a time like 2s or 500ms' },
  time: { symbol: 'T', means: 'a time like 2s or 500ms' },
  probability: { symbol: 'P', means: 'a probability', range: { min: 0, max: 1, whole: false } },
  ms: { symbol: 'MS', means: 'milliseconds', range: { min: 0, max: 60_000, whole: false }, fallback: 10 },
  seq: { symbol: 'SEQ', means: 'a log entry number', range: { min: 1, max: Number.MAX_SAFE_INTEGER, whole: true } },
} as const satisfies Record<string, FaultArgumentInfo>;
export type FaultArgument = keyof typeof FAULT_ARGUMENTS;

/**
 * What a fault acts on: the primary host or the backup host, the logging channel at both ends
 * (`channel`), or the primary's end of it (`primary-end`, the end that sends the log).
 */
export type FaultTarget = 'primary' | 'backup' | 'channel' | 'primary-end';

interface FaultKindInfo {
  argument: FaultArgument;
  on: FaultTarget;
  /** In a menu. */
  label: string;
  /** On a button. */
  short: string;
  /** One line, for help and menus ("this" is the argument). */
  does: string;
  /** What follows its @ in an example; a starting value where one is asked for. */
  example: string;
}

/** Every fault kind, in the order help and menus list them. */
export const FAULT_KINDS = {
  'kill-primary': {
    argument: 'when', on: 'primary', label: 'Kill the primary', short: 'Kill primary', example: '2s',
    does: 'kill the primary host (SIGKILL, as a crash would): the backup goes live',
  },
  'kill-backup': {
    argument: 'when', on: 'backup', label: 'Kill the backup', short: 'Kill backup', example: '2s',
    does: 'kill the backup host: the primary runs on alone, then a new backup is cloned',
  },
  partition: {
    argument: 'time', on: 'channel', label: 'Partition the channel', short: 'Partition', example: '2s',
    does: 'cut the logging channel, both hosts alive: each suspects the other; the arbiter picks one',
  },
  heal: {
    argument: 'time', on: 'channel', label: 'Heal the channel', short: 'Heal', example: '3s',
    does: 'reconnect the logging channel',
  },
  'slow-backup': {
    argument: 'ms', on: 'backup', label: 'Slow the backup', short: 'Slow backup', example: '20',
    does: 'the backup sleeps this long after every batch it replays',
  },
  delay: {
    argument: 'ms', on: 'channel', label: 'Delay channel frames', short: 'Delay', example: '50',
    does: 'every channel frame waits this long before it is written (order is kept)',
  },
  drop: {
    argument: 'probability', on: 'channel', label: 'Drop channel frames', short: 'Drop', example: '0.01',
    does: 'each channel frame is lost with this probability',
  },
  duplicate: {
    argument: 'probability', on: 'channel', label: 'Duplicate channel frames', short: 'Duplicate', example: '0.01',
    does: 'each channel frame is written twice with this probability',
  },
  corrupt: {
    argument: 'probability', on: 'channel', label: 'Corrupt channel frames', short: 'Corrupt', example: '0.01',
    does: 'each channel frame has a byte flipped with this probability (its receiver refuses it)',
  },
  'drop-entry': {
    argument: 'seq', on: 'primary-end', label: 'Drop a log entry', short: 'Drop entry', example: '5',
    does: 'this log entry is lost at its next send; given twice, its first resend too',
  },
} as const satisfies Record<string, FaultKindInfo>;

export type FaultKind = keyof typeof FAULT_KINDS;
export const FAULT_KIND_NAMES = Object.keys(FAULT_KINDS) as FaultKind[];

type ArgumentOf<K extends FaultKind> = (typeof FAULT_KINDS)[K]['argument'];
/** The kinds that act on `T`. */
export type FaultKindOn<T extends FaultTarget> = { [K in FaultKind]: (typeof FAULT_KINDS)[K]['on'] extends T ? K : never }[FaultKind];

export function isFaultKind(kind: unknown): kind is FaultKind {
  return typeof kind === 'string' && Object.hasOwn(FAULT_KINDS, kind);
}

/** The argument a fault of this kind takes. */
export function faultArgument(kind: FaultKind): Readonly<FaultArgumentInfo> {
  return FAULT_ARGUMENTS[FAULT_KINDS[kind].argument];
}

export type FaultTime = { instructions: number } | { ms: number };

/** A fault as the CLI gives it: its kind, and when or how much. */
export type Fault = { [K in FaultKind]: { kind: K } & ParsedArgument[ArgumentOf<K>] }[FaultKind];
interface ParsedArgument {
  when: { when: FaultTime };
  time: { when: { ms: number } };
  probability: { rate: number };
  ms: { ms: number };
  seq: { seq: number };
}

export class FaultError extends Error {
  override name = 'FaultError';
}

/** A log entry's seq: log entries are numbered 1, 2, 3, ... */
export function isEntrySeq(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 1;
}

function parseTime(text: string, spec: string, argument: 'when' | 'time'): FaultTime {
  const time = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(text);
  if (time) return { ms: Number(time[1]) * (time[2] === 's' ? 1000 : 1) };
  if (argument === 'when' && /^\d+$/.test(text) && Number.isSafeInteger(Number(text))) return { instructions: Number(text) };
  throw new FaultError(`--fault ${spec}: '${text}' is not ${FAULT_ARGUMENTS[argument].means}`);
}

function parseNumber(text: string, spec: string, argument: 'probability' | 'ms'): number {
  const { min, max } = FAULT_ARGUMENTS[argument].range;
  const value = Number(text);
  if (text === '' || !Number.isFinite(value) || value < min || value > max) {
    throw new FaultError(`--fault ${spec}: '${text}' is not a number from ${min} to ${max}`);
  }
  return value;
}

function parseEntrySeq(text: string, spec: string): number {
  if (!/^\d+$/.test(text) || !isEntrySeq(Number(text))) {
    const { means, range } = FAULT_ARGUMENTS.seq;
    throw new FaultError(`--fault ${spec}: '${text}' is not ${means} (a whole number from ${range.min} to ${range.max})`);
  }
  return Number(text);
}

export function parseFault(spec: string): Fault {
  const at = spec.indexOf('@');
  const kind = at < 0 ? spec : spec.slice(0, at);
  if (!isFaultKind(kind)) throw new FaultError(`--fault ${spec}: unknown fault '${kind}' (one of ${FAULT_KIND_NAMES.join(', ')})`);
  if (at < 0) throw new FaultError(`--fault ${spec}: say when or how much, e.g. ${kind}@${FAULT_KINDS[kind].example}`);
  const value = spec.slice(at + 1);
  const argument = FAULT_KINDS[kind].argument;
  switch (argument) {
    case 'when':
    case 'time':
      return { kind, when: parseTime(value, spec, argument) } as Fault;
    case 'probability':
      return { kind, rate: parseNumber(value, spec, argument) } as Fault;
    case 'ms':
      return { kind, ms: parseNumber(value, spec, argument) } as Fault;
    case 'seq':
      return { kind, seq: parseEntrySeq(value, spec) } as Fault;
  }
}
