// The JIT's state, carried by snapshots so that epochs keep compiled code.
//
// What v86's JIT holds decides where compiled blocks end, so where slices end and interrupts land. It
// lives in two places beside what v86's own snapshot holds: v86's wasm memory outside guest RAM (Rust's
// heap and statics: compiled pages, entry points, hotness counters, the table index allocator, the
// hash keys of the JIT's tables (docs/machine.md, "The JIT"), the TLB) and the wasm table, which holds a function of a
// compiled module for each index in use. Taking the state reads both: the memory's pages that are not
// zeros, verbatim, and each used index's wasm (jitmodules.ts remembers it). Putting it back, after v86's
// restore_state (which empties the cache and the TLB), writes the memory back and instantiates the
// modules into the table again: the machine then holds exactly the JIT state it was taken with, whatever
// its own history, so a clone and a machine restored in place compile what the original compiles.
// Nothing is pending at a boundary: compiled code is installed at the end of the slice that asked for it.
import { PAGE_SIZE } from './hash';
import { jitModules } from './jitmodules';
import type * as v86 from './v86types';

/** Where v86 puts its JIT code in the wasm table (`jit_clear_all_funcs`: 900 from 1024). */
const TABLE_FIRST = 1024;
const TABLE_SIZE = 900;

/** The JIT's state as a snapshot carries it. */
export interface SavedJit {
  /** The wasm memory's size: Rust's allocator grows it, and its state says where its heap ends. */
  memoryBytes: number;
  /** Indices of the 4 KiB pages outside guest RAM and VGA memory that are not zeros... */
  pages: number[];
  /** ...and their bytes, in that order. */
  pageBytes: Uint8Array;
  /** Indices in v86's wasm table that hold compiled code... */
  table: number[];
  /** ...and the wasm of each. */
  modules: Uint8Array[];
}

/** What v86's CPU gives for this: its memory, RAM, table and what JIT code imports. */
export type JitCpu = Pick<v86.Cpu, 'wasm_memory' | 'mem8' | 'jit_imports' | 'devices' | 'wm' | 'jit_clear_all_funcs'>;

export class JitState {
  private static readonly zeros = new Uint8Array(PAGE_SIZE);

  constructor(private readonly cpu: JitCpu) {}

  save(): SavedJit {
    const memory = this.bytes();
    const pages = this.pagesOutsideMachine(memory.length).filter((page) => !this.isZero(memory, page));
    const pageBytes = new Uint8Array(pages.length * PAGE_SIZE);
    pages.forEach((page, i) => pageBytes.set(memory.subarray(page * PAGE_SIZE, (page + 1) * PAGE_SIZE), i * PAGE_SIZE));
    const table: number[] = [];
    const modules: Uint8Array[] = [];
    for (let index = TABLE_FIRST; index < TABLE_FIRST + TABLE_SIZE; index++) {
      const code = this.cpu.wm.wasm_table.get(index) as object | null;
      if (!code) continue;
      const bytes = jitModules.bytesOf(code);
      if (!bytes) throw new Error(`v86's wasm table holds code at ${index} that was not compiled through the machine`);
      table.push(index);
      modules.push(bytes);
    }
    return { memoryBytes: memory.length, pages, pageBytes, table, modules };
  }

  /** Puts `saved` back, after v86's restore_state. */
  restore(saved: SavedJit): void {
    this.growTo(saved.memoryBytes);
    const memory = this.bytes();
    const carried = new Map(saved.pages.map((page, i) => [page, i]));
    for (const page of this.pagesOutsideMachine(saved.memoryBytes)) {
      const i = carried.get(page);
      if (i !== undefined) memory.set(saved.pageBytes.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE), page * PAGE_SIZE);
      else if (!this.isZero(memory, page)) memory.fill(0, page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
    }
    this.cpu.jit_clear_all_funcs();
    const imports = { e: this.cpu.jit_imports } as unknown as WebAssembly.Imports;
    saved.table.forEach((index, i) => {
      this.cpu.wm.wasm_table.set(index, jitModules.instantiate(saved.modules[i], imports).instance.exports.f);
    });
  }

  private bytes(): Uint8Array {
    return new Uint8Array(this.cpu.wasm_memory.buffer);
  }

  /**
   * A memory smaller than the snapshot's grows to its size. One larger (restored in place to before a
   * growth) keeps its tail: the allocator's state, put back, does not reach into it.
   */
  private growTo(bytes: number): void {
    const short = bytes - this.cpu.wasm_memory.buffer.byteLength;
    if (short > 0) this.cpu.wasm_memory.grow(short / 65536);
  }

  /** Pages of the first `bytes` of wasm memory that v86's own snapshot does not hold: not guest RAM, not VGA memory. */
  private pagesOutsideMachine(bytes: number): number[] {
    const held = [this.cpu.mem8, this.cpu.devices.vga?.svga_memory as Uint8Array | undefined]
      .filter((region): region is Uint8Array => region !== undefined && region.length > 0)
      .map((region) => {
        if (region.byteOffset % PAGE_SIZE || region.length % PAGE_SIZE) throw new Error(`v86 keeps ${region.length} bytes at ${region.byteOffset} in its wasm memory, not in whole 4 KiB pages`);
        return [region.byteOffset / PAGE_SIZE, (region.byteOffset + region.length) / PAGE_SIZE];
      });
    const pages: number[] = [];
    for (let page = 0; page < bytes / PAGE_SIZE; page++) {
      if (!held.some(([from, to]) => page >= from && page < to)) pages.push(page);
    }
    return pages;
  }

  private isZero(memory: Uint8Array, page: number): boolean {
    return Buffer.compare(memory.subarray(page * PAGE_SIZE, (page + 1) * PAGE_SIZE), JitState.zeros) === 0;
  }
}
