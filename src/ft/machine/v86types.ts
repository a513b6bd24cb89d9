// The parts of v86's internals Lockstep relies on (v86 0.5.462). They are not a public API:
// checkV86Internals() fails loudly, naming what moved, when an upgrade changes them.

export type V86Constructor = new (settings: Record<string, unknown>) => Emulator;

export interface Emulator {
  v86: { cpu: Cpu; save_state(): ArrayBuffer; restore_state(state: ArrayBuffer): void; constructor: unknown };
  bus: { send(event: string, data?: unknown): void };
  add_listener(event: string, listener: (data: never) => void): void;
  destroy(): void;
}

export interface V86Internal { microtick: () => number }

export interface PciBar { original_bar: number; size: number }
export interface Pci {
  devices: ({ pci_bars: (PciBar | undefined)[] } | undefined)[];
  device_spaces: Int32Array[];
  pci_addr: Uint8Array;
  pci_value: Uint8Array;
  pci_response: Uint8Array;
  pci_status: Uint8Array;
  set_io_bars(bar: PciBar, from: number, to: number): void;
  set_state(state: unknown[]): void;
}

/** v86's I/O port table: a handler per port and access width. */
export interface Io {
  register_read(port: number, device: object, r8: () => number, r16?: () => number, r32?: () => number): void;
  register_write(
    port: number,
    device: object,
    w8: (v: number) => void,
    w16?: (v: number) => void,
    w32?: (v: number) => void,
  ): void;
}

export interface Cpu {
  // v86's CPU has hundreds of fields and no types; the ones Lockstep relies on are named below.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [field: string]: any;
  instruction_counter: Uint32Array;
  in_hlt: Uint8Array;
  io: Io;
  flags: Int32Array;
  reg32: Int32Array;
  sreg: Uint16Array;
  instruction_pointer: Int32Array;
  previous_ip: Int32Array;
  last_virt_eip: Int32Array;
  eip_phys: Int32Array;
  acpi_enabled: Uint8Array;
  cr: Int32Array;
  segment_offsets: Int32Array;
  is_32: Uint8Array;
  mem8: Uint8Array;
  main_loop(): number;
  handle_irqs(): void;
  /** Empties v86's wasm table of JIT code (jitstate.ts fills it again on a restore). */
  jit_clear_all_funcs(): void;
  /** v86's wasm table: JIT code from index 1024. */
  wm: { wasm_table: WebAssembly.Table };
  write_blob(bytes: Uint8Array, address: number): void;
  get_eflags(): number;
  wasm_memory: WebAssembly.Memory;
  get_state_pic(): unknown;
  /** Where v86's 8259s keep their state in wasm memory (see devices.ts). */
  get_pic_addr_master(): number;
  /** What devices call to lower an interrupt line (replaced: see devices.ts). */
  device_lower_irq: (irq: number) => void;
  /** What v86's JIT modules import (wrapped: see jitexit.ts). */
  jit_imports: { exit_jit: () => void; [name: string]: unknown };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the other devices are v86's, untyped
  devices: { pci: Pci; net: Ne2k; [name: string]: any };
}

/** v86's NE2000: its MAC, and its 32 KiB of card memory (the MAC PROM is its first 12 bytes). */
export interface Ne2k { mac: Uint8Array; memory: Uint8Array }

export interface WasmExports { [name: string]: unknown }

/** EFLAGS.IF: a guest halted with it clear can never run again. */
export const FLAG_INTERRUPT = 0x200;

/** v86 takes whole ArrayBuffers (images, snapshots) where Lockstep holds views. */
export function arrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** CPU fields that make up architectural state (v86's own save_state saves the same ones). */
export const CPU_STATE_FIELDS = [
  'segment_is_null', 'segment_access_bytes', 'segment_offsets', 'segment_limits', 'protected_mode',
  'idtr_offset', 'idtr_size', 'gdtr_offset', 'gdtr_size', 'cr', 'cpl', 'is_32', 'stack_size_32',
  'in_hlt', 'flags', 'flags_changed', 'last_op1', 'last_op_size', 'instruction_pointer', 'previous_ip',
  'reg32', 'sreg', 'dreg', 'reg_xmm32s', 'fpu_st', 'fpu_stack_empty', 'fpu_stack_ptr',
  'fpu_control_word', 'tss_size_32', 'last_result', 'fpu_status_word', 'mxcsr',
] as const;

/** CPU fields that single-instruction stepping reads or writes besides those (see interpreter.ts). */
const STEPPING_FIELDS = ['last_virt_eip', 'eip_phys', 'acpi_enabled', 'instruction_counter', 'mem8', 'wasm_memory'] as const;

/** Devices whose state is hashed (VGA's framebuffer is large and unused by serial guests, but hashed too). */
export const HASHED_DEVICES = ['pit', 'rtc', 'uart0', 'dma', 'ps2', 'pci', 'vga', 'fdc', 'net'] as const;
export type HashedDevice = (typeof HASHED_DEVICES)[number];
/** What state hashes covered before the NE2000 was added: log files that do not say are checked with these. */
export const FIRST_HASHED_DEVICES: readonly HashedDevice[] = HASHED_DEVICES.filter((d) => d !== 'net');

export const REGISTER_NAMES = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'] as const;
export const SEGMENT_NAMES = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'] as const;
/** Registers a debugger may set. */
export type WritableRegister = (typeof REGISTER_NAMES)[number] | 'eip';

export interface Registers {
  eax: number; ecx: number; edx: number; ebx: number; esp: number; ebp: number; esi: number; edi: number;
  eip: number; eflags: number;
  es: number; cs: number; ss: number; ds: number; fs: number; gs: number;
  cr0: number; cr2: number; cr3: number; cr4: number;
}

export function readRegisters(cpu: Cpu): Registers {
  const regs = {} as Registers;
  REGISTER_NAMES.forEach((name, i) => { regs[name] = cpu.reg32[i] >>> 0; });
  SEGMENT_NAMES.forEach((name, i) => { regs[name] = cpu.sreg[i]; });
  regs.eip = cpu.instruction_pointer[0] >>> 0;
  regs.eflags = cpu.get_eflags() >>> 0;
  regs.cr0 = cpu.cr[0] >>> 0;
  regs.cr2 = cpu.cr[2] >>> 0;
  regs.cr3 = cpu.cr[3] >>> 0;
  regs.cr4 = cpu.cr[4] >>> 0;
  return regs;
}

/** Throws, naming each missing piece, if this v86 build lacks an internal Lockstep uses. */
export function checkV86Internals(cpu: Cpu): void {
  const missing = [
    ...[...CPU_STATE_FIELDS, ...STEPPING_FIELDS].filter((f) => cpu[f] === undefined),
    ...['main_loop', 'handle_irqs', 'jit_clear_all_funcs', 'get_eflags', 'get_state_pic', 'write_blob', 'get_pic_addr_master', 'device_lower_irq'].filter((f) => typeof cpu[f] !== 'function'),
    ...(typeof cpu.jit_imports?.exit_jit === 'function' ? [] : ['jit_imports.exit_jit']),
    ...(cpu.wm?.wasm_table instanceof WebAssembly.Table ? [] : ['wm.wasm_table']),
    ...HASHED_DEVICES.filter((d) => !(d in cpu.devices)).map((d) => `devices.${d}`),
  ];
  if (missing.length) throw new Error(`v86 internals moved (is v86 still 0.5.462?): missing cpu.${missing.join(', cpu.')}`);
}
