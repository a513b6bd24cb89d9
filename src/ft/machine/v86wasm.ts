// Loads v86's wasm and rewrites two things in it, in memory:
//  1. main_loop's TIME_PER_FRAME constant (1.0 ms) becomes -1.0, so every main_loop() call runs exactly
//     one slice (about 100 003 instructions) and returns: the caller, not the host clock, decides when
//     the machine stops, which makes every slice end a boundary that depends on guest execution alone.
//  2. The interpreter's per-instruction dispatch (gen::interpreter::run) is exported, for exact
//     single steps (v86 has no single-step of its own).
// It also finds, without changing them, the wasm statics that Lockstep reads and writes itself: the
// TSC's (tsc.ts).
// All of it relies on v86 0.5.462's internals; if an upgrade moves them, these functions throw and say what moved.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { markStartup } from './startup';
import { uleb128 } from './leb128';

export const STEP_EXPORT = 'lockstep_interpreter_run';
const INTERPRETER_RUN_SUFFIX = 'gen11interpreter3run';
const MAIN_LOOP = 'main_loop';

const TIME_PER_FRAME = f64Bytes(1.0);
const ONE_SLICE_PER_CALL = f64Bytes(-1.0);
const F64_CONST = 0x44;

interface Section { id: number; start: number; end: number }

class Reader {
  /** The same bytes as a Buffer, so names decode in place (v86.wasm has thousands: copies cost start-up time). */
  private readonly text: Buffer;
  constructor(readonly bytes: Uint8Array, public pos = 0) {
    this.text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.bytes[this.pos++];
      result |= (byte & 0x7f) << shift;
      if (!(byte & 0x80)) return result >>> 0;
      shift += 7;
    }
  }
  name(): string {
    const length = this.u32();
    const text = this.text.toString('utf8', this.pos, this.pos + length);
    this.pos += length;
    return text;
  }
}

function f64Bytes(value: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setFloat64(0, value, true);
  return bytes;
}

export function sections(bytes: Uint8Array): Section[] {
  const reader = new Reader(bytes, 8);
  const list: Section[] = [];
  while (reader.pos < bytes.length) {
    const id = bytes[reader.pos++];
    const size = reader.u32();
    list.push({ id, start: reader.pos, end: reader.pos + size });
    reader.pos += size;
  }
  return list;
}

export function importedFunctionCount(bytes: Uint8Array, section: Section): number {
  const reader = new Reader(bytes, section.start);
  let functions = 0;
  for (let i = reader.u32(); i > 0; i--) {
    reader.name();
    reader.name();
    const kind = bytes[reader.pos++];
    if (kind === 0) {
      reader.u32();
      functions++;
    } else if (kind === 1) {
      reader.pos++;
      const flags = reader.u32();
      reader.u32();
      if (flags & 1) reader.u32();
    } else if (kind === 2) {
      const flags = reader.u32();
      reader.u32();
      if (flags & 1) reader.u32();
    } else if (kind === 3) {
      reader.pos += 2;
    } else {
      throw new Error(`v86.wasm: unknown import kind ${kind}`);
    }
  }
  return functions;
}

export function functionNames(bytes: Uint8Array, list: Section[]): Map<string, number> {
  const names = new Map<string, number>();
  for (const section of list) {
    if (section.id !== 0) continue;
    const reader = new Reader(bytes, section.start);
    if (reader.name() !== 'name') continue;
    while (reader.pos < section.end) {
      const kind = bytes[reader.pos++];
      const end = reader.u32() + reader.pos;
      if (kind === 1) {
        for (let i = reader.u32(); i > 0; i--) {
          const index = reader.u32();
          names.set(reader.name(), index);
        }
      }
      reader.pos = end;
    }
  }
  return names;
}

function findFunction(names: Map<string, number>, match: (name: string) => boolean, what: string): number {
  for (const [name, index] of names) if (match(name)) return index;
  throw new Error(`v86.wasm: function ${what} not found in the name section (did the v86 version change?)`);
}

function functionBody(bytes: Uint8Array, code: Section, bodyIndex: number): Section {
  const reader = new Reader(bytes, code.start);
  const count = reader.u32();
  if (bodyIndex >= count) throw new Error(`v86.wasm: code section has no body ${bodyIndex}`);
  for (let i = 0; i < bodyIndex; i++) {
    const skipped = reader.u32();
    reader.pos += skipped;
  }
  const size = reader.u32();
  return { id: 10, start: reader.pos, end: reader.pos + size };
}

function patchTimePerFrame(bytes: Uint8Array, body: Section): void {
  const hits: number[] = [];
  for (let i = body.start; i + 9 <= body.end; i++) {
    if (bytes[i] === F64_CONST && TIME_PER_FRAME.every((b, k) => bytes[i + 1 + k] === b)) hits.push(i);
  }
  if (hits.length !== 1) {
    throw new Error(`v86.wasm: expected one f64.const 1.0 (TIME_PER_FRAME) in main_loop, found ${hits.length}`);
  }
  bytes.set(ONE_SLICE_PER_CALL, hits[0] + 1);
}

function withExport(bytes: Uint8Array, exportSection: Section, name: string, functionIndex: number): Uint8Array {
  const reader = new Reader(bytes, exportSection.start);
  const count = reader.u32();
  const entries = bytes.subarray(reader.pos, exportSection.end);
  const nameBytes = Buffer.from(name, 'utf8');
  const added = [...uleb128(nameBytes.length), ...nameBytes, 0x00, ...uleb128(functionIndex)];
  const payload = Buffer.concat([Buffer.from(uleb128(count + 1)), entries, Buffer.from(added)]);
  let headerStart = exportSection.start - 1;
  while (bytes[headerStart] !== 7) headerStart--;
  return Buffer.concat([
    bytes.subarray(0, headerStart),
    Buffer.from([7, ...uleb128(payload.length)]),
    payload,
    bytes.subarray(exportSection.end),
  ]);
}

const I32_CONST_0 = [0x41, 0x00];
const I64_LOAD = 0x29;
const I64_STORE = 0x37;
const ALIGN_8 = 0x03;

/**
 * Addresses of the 64-bit statics that read_tsc uses (the TSC offset first, then its extrapolation
 * state): v86 keeps them outside its snapshot, so Lockstep carries them itself.
 */
function tscStaticAddresses(bytes: Uint8Array, body: Section): number[] {
  const found: number[] = [];
  for (let i = body.start; i + 4 < body.end; i++) {
    const op = bytes[i + 2];
    if (
      bytes[i] !== I32_CONST_0[0]
      || bytes[i + 1] !== I32_CONST_0[1]
      || (op !== I64_LOAD && op !== I64_STORE)
      || bytes[i + 3] !== ALIGN_8
    ) {
      continue;
    }
    const address = new Reader(bytes, i + 4).u32();
    if (!found.includes(address)) found.push(address);
  }
  if (found.length < 2) throw new Error(`v86.wasm: read_tsc no longer looks as expected (found ${found.length} 64-bit statics)`);
  return found;
}

export interface PatchedV86 { bytes: Uint8Array; tscStatics: number[] }

/** The patched v86.wasm bytes: one slice per main_loop() call and an exported interpreter step. */
export function patchV86Wasm(original: Uint8Array): PatchedV86 {
  const bytes = new Uint8Array(original);
  const list = sections(bytes);
  const section = (id: number) => {
    const found = list.find((s) => s.id === id);
    if (!found) throw new Error(`v86.wasm: section ${id} missing`);
    return found;
  };
  const imported = importedFunctionCount(bytes, section(2));
  const names = functionNames(bytes, list);
  const mainLoop = findFunction(names, (n) => n === MAIN_LOOP, MAIN_LOOP);
  const interpreterRun = findFunction(names, (n) => n.endsWith(INTERPRETER_RUN_SUFFIX), 'gen::interpreter::run');
  const readTsc = findFunction(names, (n) => n === 'read_tsc', 'read_tsc');
  const tscStatics = tscStaticAddresses(bytes, functionBody(bytes, section(10), readTsc - imported));
  patchTimePerFrame(bytes, functionBody(bytes, section(10), mainLoop - imported));
  return { bytes: withExport(bytes, section(7), STEP_EXPORT, interpreterRun), tscStatics };
}

interface CompiledV86 { module: WebAssembly.Module; tscStatics: number[] }

let compiled: CompiledV86 | undefined;

/** Where v86.wasm lives: beside the bundle when packaged, else in node_modules. */
export function v86WasmPath(): string {
  const beside = join(__dirname, 'v86.wasm');
  if (existsSync(beside)) return beside;
  return join(dirname(createRequire(__filename).resolve('v86/package.json')), 'build', 'v86.wasm');
}

/** The patched module, compiled once per process, and where its TSC statics live. */
export function v86Module(): CompiledV86 {
  if (!compiled) {
    const patched = patchV86Wasm(readFileSync(v86WasmPath()));
    markStartup('wasmPatched');
    compiled = {
      module: new WebAssembly.Module(patched.bytes as Uint8Array<ArrayBuffer>),
      tscStatics: patched.tscStatics,
    };
    markStartup('wasmCompiled');
  }
  return compiled;
}
