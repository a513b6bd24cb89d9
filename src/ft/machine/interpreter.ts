// Guest instructions one at a time, through v86's own interpreter dispatch (the export that
// v86wasm.ts adds), exactly as v86's interpreted blocks run them (cpu.rs: cycle_internal and
// jit_run_interpreted): previous_ip = eip, translate eip (through paging when enabled; a fetch that
// faults delivers the page fault and counts nothing), eip += 1, run(opcode | is_32 << 8), counter += 1.
// Prefixes, exceptions and IRQs raised inside an instruction are handled by v86 itself.
//
// It reads and writes the CPU through plain typed arrays over the wasm memory: v86's own views are
// proxies that allocate a typed array on every access, far too slow for this loop.
import { STEP_EXPORT } from './v86wasm';
import type * as v86 from './v86types';

const PAGE_MASK = ~0xfff;
const CR0_PAGING = 0x80000000;
const STI = 0xfb;
const PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);
/** What get_phys_eip_slow_jit returns when the translation page-faults (real answers are page-aligned). */
const FETCH_FAULTED = 1;

interface Exports {
  run: (opcode: number) => void;
  physEip: (eip: number) => number;
  exitJit: () => void;
}

/** Byte addresses of the CPU fields used here (v86's views know them). */
interface Addresses {
  eip: number;
  previousIp: number;
  lastVirtEip: number;
  eipPhys: number;
  counter: number;
  is32: number;
  inHlt: number;
  cr0: number;
  mem8: number;
}

export class Interpreter {
  private i32 = new Int32Array(0);
  private u8 = new Uint8Array(0);
  private readonly exports: Exports;
  private readonly at: Addresses;

  constructor(private readonly memory: WebAssembly.Memory, cpu: v86.Cpu, exports: v86.WasmExports) {
    this.exports = {
      run: required(exports, STEP_EXPORT),
      physEip: required(exports, 'get_phys_eip_slow_jit'),
      exitJit: required(exports, 'exit_jit'),
    };
    this.at = {
      eip: cpu.instruction_pointer.byteOffset,
      previousIp: cpu.previous_ip.byteOffset,
      lastVirtEip: cpu.last_virt_eip.byteOffset,
      eipPhys: cpu.eip_phys.byteOffset,
      counter: cpu.instruction_counter.byteOffset,
      is32: cpu.is_32.byteOffset,
      inHlt: cpu.in_hlt.byteOffset,
      cr0: cpu.cr.byteOffset,
      mem8: cpu.mem8.byteOffset,
    };
  }

  /** v86's 32-bit instruction counter. */
  get counter(): number {
    return this.view()[this.at.counter >> 2] >>> 0;
  }

  /** The linear address of the next instruction. */
  get eip(): number {
    return this.view()[this.at.eip >> 2] >>> 0;
  }

  get halted(): boolean {
    this.view();
    return this.u8[this.at.inHlt] !== 0;
  }

  /** Executes the next instruction, or delivers the page fault its fetch raises (counting nothing). */
  execute(): void {
    const i32 = this.view();
    const eip = i32[this.at.eip >> 2];
    i32[this.at.previousIp >> 2] = eip;
    const phys = this.fetchAddress(eip);
    if (phys < 0) return;
    i32[this.at.eip >> 2] = eip + 1;
    this.exports.run(this.u8[this.at.mem8 + phys] | (this.u8[this.at.is32] & 1) << 8);
    this.view()[this.at.counter >> 2] += 1;
  }

  /**
   * Executes at least one instruction, then more until `count` are counted (STI may count one more),
   * the guest halts, or `stopBefore` accepts the EIP of the next one.
   */
  run(count: number, stopBefore?: (eip: number) => boolean): void {
    const limit = (this.counter + count) >>> 0;
    for (;;) {
      this.execute();
      const i32 = this.view();
      const left = (limit - i32[this.at.counter >> 2]) >>> 0;
      if (left === 0 || left > 0x7fffffff || this.u8[this.at.inHlt]) return;
      if (stopBefore?.(i32[this.at.eip >> 2] >>> 0)) return;
    }
  }

  /**
   * Whether the next instruction is STI, which v86 executes together with the instruction after it
   * (counting both). Only looks where it can without a page walk; elsewhere it answers no.
   */
  nextIsSti(): boolean {
    const i32 = this.view();
    const eip = i32[this.at.eip >> 2];
    let phys: number;
    if (!(i32[this.at.cr0 >> 2] & CR0_PAGING)) phys = eip >>> 0;
    else if ((eip & PAGE_MASK) === i32[this.at.lastVirtEip >> 2]) phys = (i32[this.at.eipPhys >> 2] ^ eip) >>> 0;
    else return false;
    const pageEnd = (phys | 0xfff) + 1;
    for (let address = phys; address < pageEnd; address++) {
      const byte = this.u8[this.at.mem8 + address];
      if (!PREFIXES.has(byte)) return byte === STI;
    }
    return false;
  }

  /** As v86's get_phys_eip: the cached page translation, or a page walk when eip left that page. */
  private fetchAddress(eip: number): number {
    if ((eip & PAGE_MASK) !== this.view()[this.at.lastVirtEip >> 2]) {
      const page = this.exports.physEip(eip);
      // The walk (jit flavour) only records a fault; exit_jit delivers it as the interpreter would.
      if (page === FETCH_FAULTED) {
        this.exports.exitJit();
        return -1;
      }
      const view = this.view();
      view[this.at.eipPhys >> 2] = ((page ^ eip) - this.at.mem8) ^ eip;
      view[this.at.lastVirtEip >> 2] = eip & PAGE_MASK;
    }
    return (this.view()[this.at.eipPhys >> 2] ^ eip) >>> 0;
  }

  /** Views over the wasm memory, made again when it grew (growing detaches the old buffer: length 0). */
  private view(): Int32Array {
    if (this.i32.length === 0) {
      this.i32 = new Int32Array(this.memory.buffer);
      this.u8 = new Uint8Array(this.memory.buffer);
    }
    return this.i32;
  }
}

function required<T>(exports: v86.WasmExports, name: string): T {
  const found = exports[name];
  if (typeof found !== 'function') throw new Error(`v86.wasm: export ${name} missing (did the v86 version change?)`);
  return found as T;
}
