// xxHash64 of 4 KiB pages read where they are, in v86's own wasm memory. xxhash-wasm (and every xxHash
// wasm on npm) owns its memory and copies each input into it before hashing: at an epoch that is a copy
// of all of guest RAM and one call through its JS wrapper per page. This module is the same function
// (xxHash64, seed 0, so every page hash keeps its value and meaning in logs, snapshots and checkpoints)
// for one length, 4096 bytes, written out here as wasm that imports the memory it reads. Pages the OS
// never gave memory to are zeros and not read at all (residentpages.ts).
import { PAGE_SIZE } from './hash';
import { ResidentPages } from './residentpages';
import { uleb128 } from './leb128';

const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const MASK64 = (1n << 64n) - 1n;

// The wasm opcodes used (https://webassembly.github.io/spec/core/binary/instructions.html).
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
const I32_CONST = 0x41;
const I64_CONST = 0x42;
const I64_LOAD = 0x29;
const I32_ADD = 0x6a;
const I32_LT_U = 0x49;
const I64_ADD = 0x7c;
const I64_MUL = 0x7e;
const I64_XOR = 0x85;
const I64_SHR_U = 0x88;
const I64_ROTL = 0x89;
const LOOP = 0x03;
const BR_IF = 0x0d;
const END = 0x0b;
const VOID = 0x40;

// Locals: the page's address (the parameter), where it ends, the four lanes, the result.
const PTR = 0;
const END_PTR = 1;
const LANES = [2, 3, 4, 5];
const H = 6;

function sleb64(value: bigint): number[] {
  let rest = BigInt.asIntN(64, value);
  const out: number[] = [];
  for (;;) {
    const byte = Number(rest & 0x7fn);
    rest >>= 7n;
    if ((rest === 0n && !(byte & 0x40)) || (rest === -1n && byte & 0x40)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

function i64(value: bigint): number[] {
  return [I64_CONST, ...sleb64(value)];
}

/** xxHash64's round: acc = rotl(acc + input * P2, 31) * P1, with `input` already on the stack. */
function round(): number[] {
  return [...i64(P2), I64_MUL, I64_ADD, ...i64(31n), I64_ROTL, ...i64(P1), I64_MUL];
}

function laneRound(lane: number, offset: number): number[] {
  return [LOCAL_GET, LANES[lane], LOCAL_GET, PTR, I64_LOAD, 3, ...uleb128(offset), ...round(), LOCAL_SET, LANES[lane]];
}

function merge(lane: number): number[] {
  const lane0 = [...i64(0n), LOCAL_GET, LANES[lane], ...round()];
  return [LOCAL_GET, H, ...lane0, I64_XOR, ...i64(P1), I64_MUL, ...i64(P4), I64_ADD, LOCAL_SET, H];
}

function shiftXor(bits: bigint): number[] {
  return [LOCAL_GET, H, LOCAL_GET, H, ...i64(bits), I64_SHR_U, I64_XOR, LOCAL_SET, H];
}

/** page(address) -> xxHash64 of the 4096 bytes there, seed 0 (the length is a multiple of 32: no tail). */
function body(): number[] {
  const start = [P1 + P2, P2, 0n, -P1].flatMap((v, lane) => [...i64(v & MASK64), LOCAL_SET, LANES[lane]]);
  const stripes = [LOOP, VOID,
    ...[0, 1, 2, 3].flatMap((lane) => laneRound(lane, lane * 8)),
    LOCAL_GET, PTR, I32_CONST, 32, I32_ADD, LOCAL_SET, PTR,
    LOCAL_GET, PTR, LOCAL_GET, END_PTR, I32_LT_U, BR_IF, 0, END];
  const converge = [[0, 1n], [1, 7n], [2, 12n], [3, 18n]].flatMap(([lane, bits], i) =>
    [LOCAL_GET, LANES[Number(lane)], ...i64(bits as bigint), I64_ROTL, ...(i ? [I64_ADD] : [])]);
  const avalanche = [...shiftXor(33n), LOCAL_GET, H, ...i64(P2), I64_MUL, LOCAL_SET, H,
    ...shiftXor(29n), LOCAL_GET, H, ...i64(P3), I64_MUL, LOCAL_SET, H, ...shiftXor(32n)];
  const code = [
    LOCAL_GET, PTR, I32_CONST, ...uleb128(PAGE_SIZE), I32_ADD, LOCAL_SET, END_PTR,
    ...start, ...stripes, ...converge, LOCAL_SET, H,
    ...[0, 1, 2, 3].flatMap(merge),
    LOCAL_GET, H, ...i64(BigInt(PAGE_SIZE)), I64_ADD, LOCAL_SET, H,
    ...avalanche, LOCAL_GET, H, END,
  ];
  const locals = [2, 1, 0x7f, 5, 0x7e]; // one i32 (END_PTR), five i64
  return [...locals, ...code];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb128(content.length), ...content];
}

function name(text: string): number[] {
  return [text.length, ...Buffer.from(text, 'latin1')];
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const code = body();
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 1, 0x7f, 1, 0x7e]), // type 0: (i32) -> i64
    ...section(2, [1, ...name('m'), ...name('memory'), 0x02, 0x00, 0x00]), // memory, at least 0 pages
    ...section(3, [1, 0]),
    ...section(7, [1, ...name('page'), 0x00, 0]),
    ...section(10, [1, ...uleb128(code.length), ...code]),
  ]);
}

let compiled: WebAssembly.Module | undefined;

function pageFunction(memory: WebAssembly.Memory): (address: number) => bigint {
  compiled ??= new WebAssembly.Module(moduleBytes());
  return new WebAssembly.Instance(compiled, { m: { memory } }).exports.page as (address: number) => bigint;
}

let zeroHash: bigint | undefined;

/** The hash of a page of zeros (as the array stores it). */
function zeroPageHash(): bigint {
  zeroHash ??= BigInt.asUintN(64, pageFunction(new WebAssembly.Memory({ initial: 1 }))(0));
  return zeroHash;
}

/** Hashes 4 KiB pages of one wasm memory in place. */
export class PageHasher {
  private readonly page: (address: number) => bigint;
  private resident: ResidentPages | undefined;
  /** The buffer `resident` was found for: the memory is found again if it grew (a new buffer). */
  private residentFor: ArrayBuffer | undefined;
  /** Pages of the last pageHashes() known to be zeros without reading them. */
  unread = 0;

  constructor(private readonly memory: WebAssembly.Memory) {
    this.page = pageFunction(memory);
  }

  /** One xxHash64 per 4 KiB page of `ram`, a view into this hasher's memory whose length is a multiple of 4 KiB. */
  pageHashes(ram: Uint8Array): BigUint64Array {
    if (ram.buffer !== this.memory.buffer || ram.length % PAGE_SIZE) {
      throw new RangeError(`page hashes in place need whole pages of this wasm memory (got ${ram.length} bytes)`);
    }
    const pages = new BigUint64Array(ram.length / PAGE_SIZE);
    const mayBeNonZero = this.residentPages()?.mayBeNonZero(ram.byteOffset, ram.length);
    const zero = zeroPageHash();
    this.unread = 0;
    // The wasm returns a signed i64; the array stores it modulo 2^64, which is xxHash64's unsigned value.
    for (let page = 0, address = ram.byteOffset; page < pages.length; page++, address += PAGE_SIZE) {
      if (mayBeNonZero?.[page] === 0) {
        pages[page] = zero;
        this.unread++;
      } else {
        pages[page] = this.page(address);
      }
    }
    return pages;
  }

  private residentPages(): ResidentPages | undefined {
    if (this.residentFor !== this.memory.buffer) {
      this.close();
      this.resident = ResidentPages.of(this.memory);
      this.residentFor = this.memory.buffer;
    }
    return this.resident;
  }

  /** Closes the page map (hashing still works: it finds it again). */
  close(): void {
    this.resident?.close();
    this.resident = undefined;
    this.residentFor = undefined;
  }
}
