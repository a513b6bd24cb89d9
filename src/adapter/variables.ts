// The variables view: one scope per concern, built from a machine's DebugState (and the session's
// divergence view) as a tree of named values. The session hands out references for the branches.
import type { DebugState } from '../ft/cluster';
import { REGISTER_NAMES, SEGMENT_NAMES } from '../ft/machine';
import type { DivergenceView } from './runtime';
import { count } from './format';
import { hex } from './format';

export interface VariableNode {
  name: string;
  value: string;
  children?: VariableNode[];
  /** For values that are addresses: the memory view opens there. */
  memoryReference?: string;
  /** What `evaluate` understands for it (registers). */
  evaluateName?: string;
}

export const SCOPES = ['Registers', 'Clock', 'Log position', 'Output Rule', 'Divergence'] as const;
export type ScopeName = (typeof SCOPES)[number];

const EFLAGS: [string, number][] = [
  ['CF', 0], ['PF', 2], ['AF', 4], ['ZF', 6], ['SF', 7], ['TF', 8], ['IF', 9], ['DF', 10], ['OF', 11],
  ['NT', 14], ['RF', 16], ['VM', 17], ['AC', 18], ['VIF', 19], ['VIP', 20], ['ID', 21],
];
const CR0: [string, number][] = [['PE', 0], ['MP', 1], ['EM', 2], ['TS', 3], ['ET', 4], ['NE', 5], ['WP', 16], ['AM', 18], ['NW', 29], ['CD', 30], ['PG', 31]];
const CR4: [string, number][] = [['VME', 0], ['PVI', 1], ['TSD', 2], ['DE', 3], ['PSE', 4], ['PAE', 5], ['MCE', 6], ['PGE', 7], ['PCE', 8], ['OSFXSR', 9], ['OSXMMEXCPT', 10]];

const word = (value: number) => `0x${hex(value)}`;

function flags(value: number, bits: [string, number][]): { set: string[]; children: VariableNode[] } {
  const set = bits.filter(([, bit]) => (value >>> bit) & 1).map(([name]) => name);
  return { set, children: bits.map(([name, bit]) => ({ name, value: String((value >>> bit) & 1) })) };
}

function decoded(name: string, value: number, bits: [string, number][], extra: VariableNode[] = []): VariableNode {
  const { set, children } = flags(value, bits);
  return { name, value: `${word(value)} [${set.join(' ')}]`, children: [...children, ...extra], evaluateName: name };
}

function registers(state: DebugState): VariableNode[] {
  const r = state.registers;
  const general = [...REGISTER_NAMES, 'eip' as const].map((name) => ({ name, value: word(r[name]), memoryReference: word(r[name]), evaluateName: name }));
  const iopl = { name: 'IOPL', value: String((r.eflags >>> 12) & 3) };
  const segments = SEGMENT_NAMES.map((name) => ({ name, value: `0x${hex(r[name], 4)}`, evaluateName: name }));
  const control = [decoded('cr0', r.cr0, CR0), { name: 'cr2', value: word(r.cr2), evaluateName: 'cr2' }, { name: 'cr3', value: word(r.cr3), evaluateName: 'cr3' }, decoded('cr4', r.cr4, CR4)];
  return [...general, decoded('eflags', r.eflags, EFLAGS, [iopl]), ...segments, ...control];
}

function clock(state: DebugState): VariableNode[] {
  // A machine the debugger holds is not running, though the guest has not halted either.
  const executing = state.checkpoint ? 'not run here (checkpoint replication\'s backup holds a checkpoint)' : state.held ? 'stopped by the debugger (not halted)' : 'running';
  const halted = state.halted ? 'halted (waiting for an interrupt)' : executing;
  const where = state.ended ? 'ended (halted with interrupts off)' : halted;
  const recorded = `${count(state.start)} to ${count(state.frontier)}${state.live ? ' (here: the live edge)' : ''}`;
  const slice = state.slice;
  const stop = state.stop;
  const asked = stop?.requested === undefined ? '' : ` (asked for ${count(stop.requested)})`;
  const idle = slice?.idle ? ` (idle for the last ${count(slice.idle)})` : '';
  const checkpoint = state.checkpoint;
  return [
    ...(checkpoint ? [{ name: 'checkpoint', value: `#${count(checkpoint.index)} at instruction ${count(checkpoint.at)} (after log entry #${checkpoint.seq}): the last one this backup applied, and what it would go live with` }] : []),
    { name: 'instructions', value: count(state.position) },
    { name: 'epoch', value: count(state.epoch) },
    { name: 'guest time', value: `${(state.guestTimeMs / 1000).toFixed(6)} s` },
    { name: 'guest', value: where },
    { name: 'slice', value: slice ? `${count(slice.from)} to ${count(slice.to)}${idle}` : 'none (at the live edge)' },
    { name: 'recorded', value: recorded },
    { name: 'last stop', value: stop ? `${stop.reason} at ${count(stop.at)}${asked}` : 'none' },
  ];
}

function logPosition(state: DebugState): VariableNode[] {
  const log = state.log;
  return [
    { name: 'last entry applied', value: log.applied ? `#${log.applied}` : 'none' },
    { name: 'entries buffered', value: count(log.pending) },
    { name: 'last entry logged or received', value: log.lastSeq ? `#${log.lastSeq}` : 'none' },
    { name: 'acknowledged', value: log.acked ? `#${log.acked}` : 'none' },
  ];
}

function outputRule(state: DebugState): VariableNode[] {
  // An output made after the instruction shown waits for the debugger too, not only for the backup's ack.
  const until = (at: number) => (at > state.position ? `, until the guest runs to instruction ${count(at)}` : '');
  const held = state.heldOutputs.map((o) => ({
    name: `#${o.seq} @${count(o.at)}`,
    value: `${JSON.stringify(o.text)} (held ${o.heldMs ?? 0} ms${until(o.at)})`,
  }));
  return [{ name: 'outputs held', value: count(held.length), children: held.length ? held : undefined }];
}

function divergence(view: DivergenceView): VariableNode[] {
  const nodes: VariableNode[] = [];
  const last = view.lastCompared;
  if (last) {
    nodes.push({
      name: 'last compared epoch',
      value: `${count(last.epoch)} at instruction ${count(last.at)}: ${last.equal ? 'equal' : 'different'}`,
      children: Object.entries(last.hashes).map(([side, hash]) => ({ name: `${side} hash`, value: hash })),
    });
  } else nodes.push({ name: 'last compared epoch', value: 'none yet' });
  nodes.push({
    name: 'divergences',
    value: count(view.divergences.length),
    children: view.divergences.length ? view.divergences.map((d) => ({
      name: `epoch ${d.epoch}`,
      value: `instruction ${count(d.at)}: ${d.pages.length} page(s) differ${d.parts.length ? `; ${d.parts.join(', ')}` : ''}`,
      children: [
        ...Object.entries(d.hashes).map(([side, hash]) => ({ name: `${side} hash`, value: hash })),
        { name: 'differing pages', value: d.pages.map((p) => `0x${p.toString(16)}`).join(', ') || 'not known', children: d.pages.map((p, i) => ({ name: `[${i}]`, value: `page 0x${p.toString(16)} (0x${hex(p * 4096)})`, memoryReference: word(p * 4096) })) },
      ],
    })) : undefined,
  });
  return nodes;
}

export function scopeVariables(scope: ScopeName, state: DebugState, view?: DivergenceView): VariableNode[] {
  switch (scope) {
    case 'Registers': return registers(state);
    case 'Clock': return clock(state);
    case 'Log position': return logPosition(state);
    case 'Output Rule': return outputRule(state);
    case 'Divergence': return divergence(view ?? { divergences: [] });
  }
}
