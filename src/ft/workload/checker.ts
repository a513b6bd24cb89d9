// Checks a kv history for what fault tolerance promises clients: no acknowledged PUT or APPEND is
// ever lost or applied twice, and every GET returns a value consistent with the acknowledged
// history. Private keys have one writer (its client, one request at a time), so every read of them
// must equal that client's model exactly. Shared keys only get APPENDs of unique tokens, so a read
// must contain each token at most once, every token acknowledged before the read was sent, and
// each client's tokens in that client's order.
import type { KvHistory, KvOp } from './client';

export interface CheckResult {
  ok: boolean;
  acknowledged: number;
  writesAcknowledged: number;
  lost: number;
  duplicated: number;
  inconsistentReads: number;
  problems: string[];
}

const MAX_PROBLEMS = 20;

function describe(op: KvOp): string {
  return `client ${op.client} seq ${op.seq} ${op.op} ${op.key}${op.value ? ` ${op.value}` : ''}`;
}

function readValue(op: KvOp): string | undefined {
  if (op.reply === 'NOKEY') return '';
  if (op.reply?.startsWith('VALUE ')) return op.reply.slice(6);
  return undefined;
}

class Findings {
  readonly problems: string[] = [];
  lost = 0;
  duplicated = 0;
  inconsistent = 0;

  add(kind: 'lost' | 'duplicated' | 'inconsistent', text: string): void {
    this[kind]++;
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(text);
  }
}

function checkPrivateKeys(ops: KvOp[], findings: Findings): void {
  const model = new Map<string, string>();
  const byClient = new Map<number, KvOp[]>();
  for (const op of ops) if (op.key.startsWith('k')) byClient.set(op.client, [...(byClient.get(op.client) ?? []), op]);
  for (const clientOps of byClient.values()) {
    for (const op of clientOps.sort((a, b) => a.seq - b.seq)) {
      if (op.op === 'PUT') model.set(op.key, op.value!.slice(0));
      else if (op.op === 'APPEND') model.set(op.key, (model.get(op.key) ?? '') + op.value);
      else {
        const expected = model.get(op.key) ?? '';
        const got = readValue(op);
        if (got === expected) continue;
        const kind = got !== undefined && expected !== '' && got.includes(expected) && got.length > expected.length ? 'duplicated' : got !== undefined && expected.includes(got) ? 'lost' : 'inconsistent';
        findings.add(kind, `${describe(op)} returned ${JSON.stringify(op.reply)}, expected ${JSON.stringify(expected)}`);
      }
    }
  }
}

function checkSharedKeys(ops: KvOp[], findings: Findings): void {
  const appends = ops.filter((op) => op.op === 'APPEND' && op.key.startsWith('s'));
  for (const read of ops.filter((op) => op.op === 'GET' && op.key.startsWith('s'))) {
    const value = readValue(read);
    if (value === undefined) {
      findings.add('inconsistent', `${describe(read)} returned ${JSON.stringify(read.reply)}`);
      continue;
    }
    const tokens = value.split('|').filter(Boolean);
    const seen = new Set<string>();
    for (const token of tokens) {
      if (seen.has(token)) findings.add('duplicated', `${describe(read)}: ${token} appears twice`);
      seen.add(token);
    }
    for (const write of appends) {
      if (write.key !== read.key || write.completed === undefined || write.completed >= read.invoked) continue;
      if (!seen.has(write.value!.slice(1))) findings.add('lost', `${describe(read)} misses ${describe(write)}, acknowledged before it`);
    }
    checkClientOrder(read, tokens, appends, findings);
  }
}

/** Each client's appends to one key must appear in the order that client sent them. */
function checkClientOrder(read: KvOp, tokens: string[], appends: KvOp[], findings: Findings): void {
  const seqOf = new Map(appends.filter((w) => w.key === read.key).map((w) => [w.value!.slice(1), w]));
  const lastSeq = new Map<number, number>();
  for (const token of tokens) {
    const write = seqOf.get(token);
    if (!write) {
      findings.add('inconsistent', `${describe(read)}: ${token} was never written`);
      continue;
    }
    if ((lastSeq.get(write.client) ?? 0) > write.seq) findings.add('inconsistent', `${describe(read)}: ${token} is out of client ${write.client}'s order`);
    lastSeq.set(write.client, write.seq);
  }
}

function checkWriteReplies(ops: KvOp[], findings: Findings): void {
  for (const op of ops) {
    if (op.op !== 'GET' && op.reply !== 'OK') findings.add('inconsistent', `${describe(op)} got ${JSON.stringify(op.reply)}, expected OK`);
  }
}

export function checkKvHistory(history: KvHistory): CheckResult {
  const acknowledged = history.ops.filter((op) => op.completed !== undefined);
  const findings = new Findings();
  checkWriteReplies(acknowledged, findings);
  checkPrivateKeys(acknowledged, findings);
  checkSharedKeys(acknowledged, findings);
  return {
    ok: findings.problems.length === 0 && history.complete,
    acknowledged: acknowledged.length,
    writesAcknowledged: acknowledged.filter((op) => op.op !== 'GET').length,
    lost: findings.lost,
    duplicated: findings.duplicated,
    inconsistentReads: findings.inconsistent,
    problems: findings.problems,
  };
}
