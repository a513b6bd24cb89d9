// Instructions v86's compiled code counts but never executes. The JIT adds a basic block's whole
// instruction count when it enters the block (v86 jit.rs); when an instruction in the block raises an
// exception (a page fault, say) or writes code (self-modifying code), the module leaves through its
// exit_jit path with the rest of the block counted all the same. A run of whole slices (and the
// count every boundary is named by) includes those counts; single-instruction stepping, which counts
// what it executes, must add them where the compiled code left, or every later count in the slice is
// off. So each exit is recorded (JitExit): the count after it and the registers where it left.
//
// The count after the exit is only in memory once the module has stored it, after it calls exit_jit:
// countBeforeExit swaps the two in each module v86 generates (same bytes, other order), so that the
// machine's exit_jit hook reads the count the exit ends at.
import type { Cpu } from './v86types';
import { uleb128 } from './leb128';

/** One exit of compiled code by exit_jit, as a whole-slice run took it. */
export interface JitExit {
  /** The count after the exit: where the recorded run's count is once the compiled code has left. */
  at: number;
  /** EIP when the code left: the faulting instruction, or the one after code was written. */
  eip: number;
  /** EAX..EDI there (to tell this exit from earlier passes over the same EIP). */
  registers: number[];
  /** Where execution went on: the exception's handler, or `eip` (self-modifying code: no exception). */
  next: number;
}

/**
 * Calls `onExit` at each exit of compiled code by exit_jit, once v86 has handled it: where and with
 * what registers the code left, and where execution goes on. The caller reads the count (the module
 * stored it just before). Only whole slices run compiled code: a stepper executes what the record says.
 */
export function onJitExit(cpu: Cpu, onExit: (exit: Omit<JitExit, 'at'>) => void): void {
  const exitJit = cpu.jit_imports.exit_jit;
  cpu.jit_imports.exit_jit = () => {
    const eip = cpu.instruction_pointer[0] >>> 0;
    const registers = Array.from(cpu.reg32);
    exitJit();
    onExit({ eip, registers, next: cpu.instruction_pointer[0] >>> 0 });
  };
}

const CALL = 0x10;
const RETURN = 0x0f;
const I32_CONST = 0x41;
const LOCAL_GET = 0x20;
const I32_ADD = 0x6a;
const I32_LOAD_ALIGNED = [0x28, 0x02, 0x00];
const I32_STORE_ALIGNED = [0x36, 0x02, 0x00];
const IMPORT_SECTION = 2;

/**
 * The module's bytes with its exit path storing the instruction count before calling exit_jit rather
 * than after: `call exit_jit; counter += local; return` becomes `counter += local; call exit_jit; return`.
 * Modules without an exit path are returned as they are; an exit path in another shape is an error
 * naming what moved (a v86 upgrade).
 */
export function countBeforeExit(bytes: Uint8Array): Uint8Array {
  const exitJit = functionImportIndex(bytes, 'exit_jit');
  if (exitJit === undefined) return bytes;
  const call = [CALL, ...uleb128(exitJit)];
  const found = occurrences(bytes, call).map((at) => ({ at, update: counterUpdateLength(bytes, at + call.length) }));
  const exits = found.filter((f) => f.update > 0);
  if (exits.length !== 1) throw new Error(`v86 JIT module: ${exits.length} exit_jit paths followed by the counter update, expected 1 (did the v86 version change?)`);
  const { at, update } = exits[0];
  const patched = bytes.slice();
  patched.set(bytes.subarray(at + call.length, at + call.length + update), at);
  patched.set(call, at + update);
  return patched;
}

/** The length of `i32.const A; i32.const A; i32.load; local.get L; i32.add; i32.store` then return at `at`, or 0. */
function counterUpdateLength(bytes: Uint8Array, at: number): number {
  if (bytes[at] !== I32_CONST) return 0;
  const address = readLeb(bytes, at + 1);
  const second = at + 1 + address.length;
  if (bytes[second] !== I32_CONST || readLeb(bytes, second + 1).value !== address.value) return 0;
  let i = second + 1 + address.length;
  if (!matches(bytes, i, I32_LOAD_ALIGNED) || bytes[i + 3] !== LOCAL_GET) return 0;
  i += 4 + readLeb(bytes, i + 4).length;
  if (bytes[i] !== I32_ADD || !matches(bytes, i + 1, I32_STORE_ALIGNED) || bytes[i + 4] !== RETURN) return 0;
  return i + 4 - at;
}

/** The function index of import `e.NAME` (functions are numbered in import order), if imported. */
function functionImportIndex(bytes: Uint8Array, name: string): number | undefined {
  let at = 8;
  while (at < bytes.length && bytes[at] !== IMPORT_SECTION) {
    const size = readLeb(bytes, at + 1);
    at += 1 + size.length + size.value;
  }
  if (at >= bytes.length) return undefined;
  const size = readLeb(bytes, at + 1);
  at += 1 + size.length;
  const count = readLeb(bytes, at);
  at += count.length;
  let functions = 0;
  for (let i = 0; i < count.value; i++) {
    const module = readName(bytes, at);
    const field = readName(bytes, module.end);
    const kind = bytes[field.end];
    at = skipImportDescription(bytes, field.end + 1, kind);
    if (kind !== 0) continue;
    if (field.text === name) return functions;
    functions++;
  }
  return undefined;
}

function skipImportDescription(bytes: Uint8Array, at: number, kind: number): number {
  switch (kind) {
    case 0: return at + readLeb(bytes, at).length; // function: its type index
    case 1: return skipLimits(bytes, at + 1); // table: element type, limits
    case 2: return skipLimits(bytes, at); // memory: limits
    case 3: return at + 2; // global: value type, mutability
    default: throw new Error(`v86 JIT module: import of unknown kind ${kind}`);
  }
}

function skipLimits(bytes: Uint8Array, at: number): number {
  const flags = bytes[at];
  let next = at + 1;
  next += readLeb(bytes, next).length;
  if (flags & 1) next += readLeb(bytes, next).length;
  return next;
}

function readName(bytes: Uint8Array, at: number): { text: string; end: number } {
  const length = readLeb(bytes, at);
  const start = at + length.length;
  return { text: Buffer.from(bytes.subarray(start, start + length.value)).toString('latin1'), end: start + length.value };
}

/** An unsigned LEB128 at `at` (a signed one reads the same for the small positive values compared here). */
function readLeb(bytes: Uint8Array, at: number): { value: number; length: number } {
  let value = 0;
  let length = 0;
  let byte: number;
  do {
    byte = bytes[at + length];
    value += (byte & 0x7f) * 2 ** (7 * length);
    length++;
  } while (byte & 0x80 && length < 5);
  return { value, length };
}

function matches(bytes: Uint8Array, at: number, expected: number[]): boolean {
  return expected.every((b, i) => bytes[at + i] === b);
}

function occurrences(bytes: Uint8Array, needle: number[]): number[] {
  const found: number[] = [];
  for (let at = bytes.indexOf(needle[0]); at >= 0; at = bytes.indexOf(needle[0], at + 1)) {
    if (matches(bytes, at, needle)) found.push(at);
  }
  return found;
}
