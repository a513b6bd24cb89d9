// Fault injection, as the CLI spells it (`--fault KIND@WHEN`) and as the debugger asks for it.
//   kill-primary@150000000   kill the primary when its instruction count reaches N
//   kill-backup@2s           kill the backup process 2 s after start (also 500ms)
//   partition@2s, heal@3s    cut / restore the logging channel, both hosts alive
//   drop@0.01, duplicate@0.01, corrupt@0.01   per-frame probabilities on the channel
//   drop-entry@5             drop log entry 5 the next time it is sent; given twice, its first resend too
//   delay@5                  delay every frame by 5 ms
//   slow-backup@2            the backup sleeps 2 ms between replay batches

export type FaultKind =
  | 'kill-primary' | 'kill-backup' | 'partition' | 'heal' | 'drop' | 'duplicate' | 'corrupt' | 'drop-entry' | 'delay' | 'slow-backup';

export type FaultTime = { instructions: number } | { ms: number };

export type Fault =
  | { kind: 'kill-primary' | 'kill-backup'; when: FaultTime }
  | { kind: 'partition' | 'heal'; when: { ms: number } }
  | { kind: 'drop' | 'duplicate' | 'corrupt'; rate: number }
  | { kind: 'drop-entry'; seq: number }
  | { kind: 'delay'; ms: number }
  | { kind: 'slow-backup'; ms: number };

export class FaultError extends Error {
  override name = 'FaultError';
}

/** Every kind, with what follows its @ in an example (the hint when it is missing). */
const EXAMPLES: Record<FaultKind, string> = {
  'kill-primary': '2s', 'kill-backup': '2s', partition: '2s', heal: '3s',
  drop: '0.01', duplicate: '0.01', corrupt: '0.01', 'drop-entry': '5', delay: '5', 'slow-backup': '2',
};
const KINDS = Object.keys(EXAMPLES) as FaultKind[];

/** A log entry's seq: log entries are numbered 1, 2, 3, ... */
export function isEntrySeq(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 1;
}

function parseTime(text: string, spec: string, instructionsAllowed: boolean): FaultTime {
  const time = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(text);
  if (time) return { ms: Number(time[1]) * (time[2] === 's' ? 1000 : 1) };
  if (instructionsAllowed && /^\d+$/.test(text) && Number.isSafeInteger(Number(text))) return { instructions: Number(text) };
  throw new FaultError(`--fault ${spec}: '${text}' is not ${instructionsAllowed ? 'an instruction count or ' : ''}a time like 2s or 500ms`);
}

function parseNumber(text: string, spec: string, max: number): number {
  const value = Number(text);
  if (text === '' || !Number.isFinite(value) || value < 0 || value > max) {
    throw new FaultError(`--fault ${spec}: '${text}' is not a number from 0 to ${max}`);
  }
  return value;
}

function parseEntrySeq(text: string, spec: string): number {
  if (!/^\d+$/.test(text) || !isEntrySeq(Number(text))) {
    throw new FaultError(`--fault ${spec}: '${text}' is not a log entry number (a whole number from 1 to ${Number.MAX_SAFE_INTEGER})`);
  }
  return Number(text);
}

export function parseFault(spec: string): Fault {
  const at = spec.indexOf('@');
  const kind = (at < 0 ? spec : spec.slice(0, at)) as FaultKind;
  if (!KINDS.includes(kind)) throw new FaultError(`--fault ${spec}: unknown fault '${kind}' (one of ${KINDS.join(', ')})`);
  if (at < 0) throw new FaultError(`--fault ${spec}: say when or how much, e.g. ${kind}@${EXAMPLES[kind]}`);
  const value = spec.slice(at + 1);
  switch (kind) {
    case 'kill-primary':
    case 'kill-backup':
      return { kind, when: parseTime(value, spec, true) };
    case 'partition':
    case 'heal':
      return { kind, when: parseTime(value, spec, false) as { ms: number } };
    case 'drop':
    case 'duplicate':
    case 'corrupt':
      return { kind, rate: parseNumber(value, spec, 1) };
    case 'drop-entry':
      return { kind, seq: parseEntrySeq(value, spec) };
    case 'delay':
    case 'slow-backup':
      return { kind, ms: parseNumber(value, spec, 60_000) };
  }
}
