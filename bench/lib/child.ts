// Small programs that the FT benchmarks run as processes of their own, so that their baselines are
// processes like the FT hosts are. bench/lib/ft.ts bundles this file with esbuild into plain
// JavaScript (no tsx, so no loader start-up cost in "with start-up" figures) and runs it as
// `node child.cjs '<json args>'`. Imports only Node, v86 and, for the jitTier option, the two V8 flag
// switches Lockstep compiles its JIT's modules with (src/ft/machine/jittier.ts): nothing of Lockstep's machine.
//
//   run    plain v86 from npm, started the ordinary way (`new V86({ multiboot, autostart: true })`),
//          runs a guest to a serial line, prints one JSON line (ChildRun) and exits.
//   serve  plain v86 running a guest behind a TCP line service shaped like Lockstep's (src/ft/replication/service.ts):
//          whole request lines go to COM1, whole output lines go to every client. Prints {"port"}.
//   echo   a TCP echo server (the loopback round-trip reference). Prints {"port"}.
//   ping   round trips to an echo server, one at a time, `gapMs` apart: `count` of them, or until
//          SIGTERM (a bystander measuring the machine while a workload runs). Prints {"connected"},
//          then {"rtts"} (ms).
import { readFileSync } from 'node:fs';
import { Socket, connect, createServer } from 'node:net';
import { V86 } from 'v86';
import { liftoffFromNowOn, type JitTier } from '../../src/ft/machine/jittier';

export interface ChildArgs {
  mode: 'run' | 'serve' | 'echo' | 'ping';
  /** Multiboot image path (a bzImage with `bios`) and v86.wasm path (run, serve). */
  image?: string;
  /** A BIOS boot (the linux guest): SeaBIOS, its VGA BIOS and the initrd, by path. */
  bios?: { bios: string; vgaBios: string; initrd?: string; memoryMiB: number };
  wasm?: string;
  cmdline?: string;
  /** run: the run ends at the first output line matching this regular expression. */
  until?: string;
  /** serve: announce the port once an output line matches this (the guest is ready). */
  ready?: string;
  memoryMiB?: number;
  /** ping: the echo server's port, the pause between round trips, how many (default: until SIGTERM). */
  port?: number;
  gapMs?: number;
  count?: number;
  /** run: 'liftoff' compiles the JIT's modules in Liftoff alone from emulator-started (v86.wasm compiled by then). */
  jitTier?: JitTier;
}

export interface ChildRun {
  /** From emulator-started to the end of the awaited line. */
  ms: number;
  /** Executed instructions in that time (v86's 32-bit counter). */
  instructions: number;
  mips: number;
  /** CPU time (user + system) of this process in that time, ms. */
  cpuMs: number;
  /** CPU time (user + system) of this whole process, start-up included, to the end of the awaited line, ms. */
  processCpuMs: number;
  /** The main thread's time on a CPU and waiting for one in that time (/proc/self/schedstat), ms; NaN elsewhere. */
  runMs: number;
  waitMs: number;
  serial: string;
  /** Peak resident set size of this process (process.resourceUsage().maxRSS), KiB. */
  maxRssKiB: number;
}

function buffer(path: string): { buffer: ArrayBuffer } {
  const bytes = readFileSync(path);
  return { buffer: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer };
}

/** The boot files as v86 takes them: a multiboot kernel, or BIOS + bzImage (+ initrd). */
function bootFiles(args: ChildArgs): Record<string, unknown> {
  const { bios } = args;
  if (!bios) return { multiboot: buffer(args.image!) };
  return {
    bios: buffer(bios.bios),
    vga_bios: buffer(bios.vgaBios),
    bzimage: buffer(args.image!),
    ...(bios.initrd ? { initrd: buffer(bios.initrd) } : {}),
  };
}

function emulator(args: ChildArgs): V86 {
  return new V86({
    ...bootFiles(args),
    cmdline: args.cmdline ?? '',
    memory_size: (args.bios?.memoryMiB ?? args.memoryMiB ?? 32) * 1024 * 1024,
    vga_memory_size: 2 * 1024 * 1024,
    wasm_path: args.wasm,
    autostart: true,
    disable_speaker: true,
    disable_keyboard: true,
    disable_mouse: true,
    acpi: false,
    log_level: 0,
  } as ConstructorParameters<typeof V86>[0]);
}

/** v86's instruction counter, which its public API does not expose. */
function counter(e: V86): number {
  return (e as unknown as { v86: { cpu: { instruction_counter: Uint32Array } } }).v86.cpu.instruction_counter[0];
}

/** The main thread's time on a CPU and waiting in a run queue so far, ns (Linux). */
function schedstat(): number[] {
  try {
    return readFileSync('/proc/self/schedstat', 'utf8').trim().split(' ').map(Number);
  } catch {
    return [NaN, NaN];
  }
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

function run(args: ChildArgs): void {
  const e = emulator(args);
  const until = new RegExp(args.until!);
  let started = 0;
  let startCount = 0;
  let startCpu = process.cpuUsage();
  let startSched = schedstat();
  let serial = '';
  let lineStart = 0;
  let done = false;
  e.add_listener('emulator-started', () => {
    if (args.jitTier === 'liftoff') liftoffFromNowOn();
    started = performance.now();
    startCount = counter(e);
    startCpu = process.cpuUsage();
    startSched = schedstat();
  });
  e.add_listener('serial0-output-byte', (byte: number) => {
    if (done) return;
    serial += String.fromCharCode(byte);
    if (byte !== 10) return;
    const line = serial.slice(lineStart);
    lineStart = serial.length;
    if (!until.test(line)) return;
    done = true;
    const ms = performance.now() - started;
    const instructions = (counter(e) - startCount) >>> 0;
    const whole = process.cpuUsage();
    const cpu = process.cpuUsage(startCpu);
    const sched = schedstat();
    const result: ChildRun = {
      ms, instructions, mips: instructions / ms / 1000, cpuMs: (cpu.user + cpu.system) / 1000,
      processCpuMs: (whole.user + whole.system) / 1000,
      runMs: (sched[0] - startSched[0]) / 1e6, waitMs: (sched[1] - startSched[1]) / 1e6,
      serial, maxRssKiB: process.resourceUsage().maxRSS,
    };
    print(result);
    process.exit(0);
  });
}

function serve(args: ChildArgs): void {
  const e = emulator(args);
  const ready = new RegExp(args.ready ?? '.');
  const clients = new Set<Socket>();
  let line = '';
  let announced = false;
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    clients.add(socket);
    let pending = '';
    socket.on('data', (chunk) => {
      pending += chunk.toString('latin1');
      for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
        e.serial0_send(pending.slice(0, end + 1));
        pending = pending.slice(end + 1);
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => clients.delete(socket));
  });
  e.add_listener('serial0-output-byte', (byte: number) => {
    line += String.fromCharCode(byte);
    if (byte !== 10) return;
    const text = line;
    line = '';
    for (const client of clients) client.write(text, 'latin1');
    if (!announced && ready.test(text)) {
      announced = true;
      server.listen(0, '127.0.0.1', () => print({ port: (server.address() as { port: number }).port }));
    }
  });
  process.on('SIGTERM', () => process.exit(0));
}

function echo(): void {
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => socket.write(chunk));
    socket.on('error', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1', () => print({ port: (server.address() as { port: number }).port }));
  process.on('SIGTERM', () => process.exit(0));
}

function ping(args: ChildArgs): void {
  const message = Buffer.alloc(32, 0x61);
  const rtts: number[] = [];
  const done = () => {
    print({ rtts });
    process.exit(0);
  };
  const socket = connect(args.port!, '127.0.0.1');
  socket.setNoDelay(true);
  let sentAt = 0;
  let got = 0;
  const send = () => {
    got = 0;
    sentAt = performance.now();
    socket.write(message);
  };
  socket.on('connect', () => {
    process.on('SIGTERM', done);
    print({ connected: true });
    send();
  });
  socket.on('data', (chunk: Buffer) => {
    got += chunk.length;
    if (got < message.length) return;
    rtts.push(performance.now() - sentAt);
    if (rtts.length === args.count) done();
    else setTimeout(send, args.gapMs ?? 1);
  });
  socket.on('error', (error) => {
    process.stderr.write(`ping: ${error.message}\n`);
    process.exit(1);
  });
}

// This file is a program (import only its types elsewhere).
const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
if (args.mode === 'run') run(args);
else if (args.mode === 'serve') serve(args);
else if (args.mode === 'echo') echo();
else if (args.mode === 'ping') ping(args);
else throw new Error(`bench/lib/child.ts: unknown mode ${String(args.mode)}`);
