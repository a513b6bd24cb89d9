// The guest code the debugger shows: the disassembly view's rows, and for every stack frame a
// generated document of the code around it (one per 4 KiB page, a line per instruction, served by
// the `source` request). VS Code selects a frame after every stop only when the frame has a source,
// so without one the Variables pane stays empty and the disassembly view greyed until a click.
//
// Both decode forwards from page starts (fixed places, so a row is the same wherever a request
// starts), in step with the instruction boundaries known to be true: where the timeline started,
// every EIP a stop showed, and the EIPs the recording says ran right before a stop (its trail). A
// guess from before an address is not used: it changes with where it starts, and swallows an
// instruction into data before it.
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { DebugState } from '../ft/cluster';
import { Decoded, MAX_INSTRUCTION_BYTES, sweep } from './disassemble';
import { hex } from './format';

const PAGE = 4096;
/** Widest instruction bytes column of a document line (longer instructions end in '…'). */
const BYTES_COLUMN = 8;

/** Reads linear memory: the bytes from `address` up to the first that cannot be read. */
export type Reader = (address: number, length: number) => Promise<Uint8Array>;

interface CodeDocument {
  page: number;
  bits: 16 | 32;
  bytes: Uint8Array;
  lines: Decoded[];
}

type Row = DebugProtocol.DisassembledInstruction;

const word = (value: number) => `0x${hex(value)}`;

export class CodeView {
  private readonly anchors = new Set<number>();
  /** sourceReference N is documents[N - 1]. */
  private readonly documents: CodeDocument[] = [];

  /** The frame's source: the document of its page (one where EIP is a line), and EIP's line. */
  async frame(state: DebugState, read: Reader): Promise<{ source: DebugProtocol.Source; line: number }> {
    const eip = state.registers.eip >>> 0;
    this.learn(state, eip);
    const page = eip - (eip % PAGE);
    const bytes = await read(page, Math.min(PAGE + MAX_INSTRUCTION_BYTES, 2 ** 32 - page));
    const fits = (d: CodeDocument) =>
      d.page === page && d.bits === state.bits && sameBytes(d.bytes, bytes) && d.lines.some((l) => l.address === eip);
    let index = this.documents.findIndex(fits);
    if (index < 0) {
      const lines = sweep(bytes, page, state.bits, this.anchors).filter((l) => l.address < page + PAGE);
      index = this.documents.push({ page, bits: state.bits, bytes, lines }) - 1;
    }
    const line = this.documents[index].lines.findIndex((l) => l.address === eip) + 1;
    return { source: { name: `code at ${word(page)}`, sourceReference: index + 1 }, line };
  }

  /** The text of document `reference`: `address  bytes  instruction`, a line per instruction. */
  text(reference: number): string {
    const document = this.documents[reference - 1];
    if (!document) throw new RangeError(`no source ${reference} (this session made ${this.documents.length})`);
    return document.lines.map((l) => `${word(l.address)}  ${column(l.bytes)}  ${l.text}`).join('\n');
  }

  /**
   * `count` rows from `offset` instructions after the one at `at` (negative: before it). Places that
   * cannot be read are rows of '??', so the count is what was asked.
   */
  async disassemble(state: DebugState, at: number, offset: number, count: number, read: Reader): Promise<Row[]> {
    this.learn(state);
    const before = Math.max(0, -offset);
    const after = Math.max(0, offset + count);
    const end = Math.min(2 ** 32, at + (after + 1) * MAX_INSTRUCTION_BYTES);
    // From the page far enough back for `before` rows (each at most 15 bytes); nearer pages when it
    // cannot be read.
    let from = Math.max(0, at - before * MAX_INSTRUCTION_BYTES);
    from -= from % PAGE;
    let bytes = await read(from, end - from);
    while (from + bytes.length <= at && from + PAGE <= at) {
      from += PAGE;
      bytes = await read(from, end - from);
    }
    // The address asked for is a row (the current instruction stays in view), known or not.
    const rows = sweep(bytes, from, state.bits, new Set([...this.anchors, at >>> 0]));
    const here = rows.findIndex((r) => r.address === at);
    const first = (here < 0 ? rows.length : here) + offset;
    return Array.from({ length: count }, (_, i) => {
      const index = first + i;
      const row = rows[index];
      if (row && (here >= 0 || row.address < at)) return instruction(row);
      // Not decoded: a byte per row from the nearest place known.
      const last = rows.at(-1);
      let guess = at + index - rows.length;
      if (index < 0) guess = (rows[0]?.address ?? at) + index;
      else if (here >= 0 && last) guess = last.address + last.length + index - rows.length;
      const address = word(Math.max(0, Math.min(guess, 2 ** 32 - 1)));
      return { address, instruction: '??', presentationHint: 'invalid' };
    });
  }

  private learn(state: DebugState, eip = state.registers.eip): void {
    this.anchors.add(state.entry >>> 0);
    this.anchors.add(eip >>> 0);
    for (const before of state.trail ?? []) this.anchors.add(before >>> 0);
  }
}

function instruction(row: Decoded): Row {
  return {
    address: word(row.address),
    instructionBytes: hexBytes(row.bytes),
    instruction: row.text,
    ...(row.invalid ? { presentationHint: 'invalid' as const } : {}),
  };
}

function hexBytes(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex').replace(/(..)(?!$)/g, '$1 ');
}

function column(bytes: Uint8Array): string {
  const shown = hexBytes(bytes.subarray(0, BYTES_COLUMN)) + (bytes.length > BYTES_COLUMN ? '…' : '');
  return shown.padEnd(BYTES_COLUMN * 3);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
}
