// The Debug Adapter Protocol side: requests in, responses and events out, mapped onto a Runtime
// (runtime.ts). Every request goes through one dispatcher that checks its arguments and turns any
// failure into an error response naming what was wrong, so no request can bring the adapter down.
import { ContinuedEvent, DebugSession, Event, Handles, InitializedEvent, InvalidatedEvent, OutputEvent, Response, StoppedEvent, TerminatedEvent, ThreadEvent } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { HostLauncher } from '../ft/cluster';
import type { DebugState, Watch } from '../ft/cluster';
import { FAULT_KIND_NAMES, isFaultKind } from '../ft/cluster';
import type { EntryKind } from '../ft/log';
import { REGISTER_NAMES } from '../ft/machine';
import { CodeView, Reader } from './code';
import { MAX_INSTRUCTION_BYTES, decode } from './disassemble';
import { Evaluation, ExpressionError, Size, evaluateExpression, formatValue, registerValue } from './evaluate';
import { FtRuntime } from './ftRuntime';
import { bytesAt, hex } from './format';
import { LaunchConfig, parseLaunch } from './launch';
import { LocalRuntime } from './localRuntime';
import { ENTRY_KINDS } from './protocol';
import { Runtime, SessionBusy } from './runtime';
import { NothingToShowYet } from './targets';
import { SCOPES, ScopeName, VariableNode, scopeVariables } from './variables';
import { Watches } from './watches';
import { DebugConsole, isCommand } from './console';

export interface SessionOptions {
  /** How FT hosts are started (default: this process's own script, `lockstep host`). */
  launcher?: HostLauncher;
  /** Called when the session has ended its machines (a TCP server then closes the connection). */
  onEnd?: () => void;
  /**
   * The client can show memory for a `memoryReference` (default true). VS Code shows it with the Hex
   * Editor extension and otherwise sends the user to the marketplace: without it, none is offered.
   */
  memoryView?: boolean;
}

const GRANULARITIES = ['instruction', 'statement', 'line'];
/** Registers the console can assign (as the Registers scope can set them). */
const WRITABLE = [...REGISTER_NAMES, 'eip'];

type Handle = { threadId: number; scope: ScopeName } | { threadId: number; nodes: VariableNode[] };
type Args = Record<string, unknown>;
type Handler = (args: Args) => Promise<object | undefined> | object | undefined;

const MAX_READ = 1024 * 1024;
/** Largest range one data breakpoint watches (as the debugger allows). */
const MAX_WATCH = 4096;
const MAX_ENTRIES = 10_000;
/** A bad argument: the message names it. */
class ArgumentError extends Error {
  override name = 'ArgumentError';
}

function integer(args: Args, name: string, min: number, max: number, fallback?: number): number {
  const value = args[name] ?? fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ArgumentError(`'${name}' must be a whole number from ${min} to ${max}, got ${JSON.stringify(args[name])}`);
  }
  return value;
}

function text(args: Args, name: string): string {
  const value = args[name];
  if (typeof value !== 'string' || !value.trim()) throw new ArgumentError(`'${name}' must be a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}

/** A memory reference: an address as 0x hex or decimal (what this adapter hands out). */
function address(reference: unknown, name: string, offset: unknown = 0): number {
  const ref = typeof reference === 'string' ? reference.trim() : '';
  const base = /^0x[0-9a-f]{1,8}$/i.test(ref) ? parseInt(ref, 16) : /^\d{1,10}$/.test(ref) ? Number(ref) : NaN;
  if (!Number.isSafeInteger(base) || base > 0xffffffff) throw new ArgumentError(`'${name}' must be an address (0x hex or decimal), got ${JSON.stringify(reference)}`);
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset)) throw new ArgumentError(`the offset must be a whole number, got ${JSON.stringify(offset)}`);
  const at = base + offset;
  if (at < 0 || at > 0xffffffff) throw new ArgumentError(`address 0x${base.toString(16)} + ${offset} is outside the 32-bit address space`);
  return at;
}

const word = (value: number) => `0x${hex(value)}`;

/** A value for a 32-bit register: unsigned, or negative down to -2^31 (the console's 64-bit two's complement). */
function fitTo32Bits(register: string, { value }: Evaluation): number {
  const negative = value >= (1n << 64n) - (1n << 31n);
  if (value > 0xffffffffn && !negative) throw new ArgumentError(`0x${value.toString(16)} does not fit in the 32-bit register ${register}`);
  return Number(value & 0xffffffffn);
}

export class LockstepDebugSession extends DebugSession {
  private runtime: Runtime | undefined;
  private config: LaunchConfig | undefined;
  private readonly handles = new Handles<Handle>();
  private readonly code = new CodeView();
  /** The thread memory requests (which name no thread) read: the last one stopped or looked at. */
  private focus: number | undefined;
  private readonly watches = new Watches((all) => this.rt().setWatches(all));
  private readonly console = new DebugConsole({
    goTo: (threadId, instruction) => this.goTo(threadId, instruction),
    watchOf: (threadId, expression) => this.watchOf(threadId, expression),
    watches: this.watches,
  });
  private terminating: Promise<void> | undefined;
  private begun = false;
  /** The client redraws views on an `invalidated` event (after the console sets a register). */
  private invalidates = false;
  private readonly handlers: Record<string, Handler> = {
    initialize: (a) => this.initialize(a),
    launch: (a) => this.launch(a),
    attach: () => { throw new ArgumentError('Lockstep sessions are launched (request "launch"), not attached'); },
    configurationDone: () => this.configurationDone(),
    setBreakpoints: (a) => this.setSourceBreakpoints(a),
    setExceptionBreakpoints: (a) => (this.list(a, 'filters'), { breakpoints: [] }),
    setFunctionBreakpoints: (a) => ({ breakpoints: this.list(a, 'breakpoints').map(() => ({ verified: false, message: 'Lockstep has no symbols: use instruction breakpoints' })) }),
    setInstructionBreakpoints: (a) => this.setInstructionBreakpoints(a),
    dataBreakpointInfo: (a) => this.dataBreakpointInfo(a),
    setDataBreakpoints: (a) => this.setDataBreakpoints(a),
    threads: () => ({ threads: this.runtime?.threads() ?? [] }),
    stackTrace: (a) => this.stackTrace(a),
    scopes: (a) => this.scopes(a),
    variables: (a) => this.variables(a),
    setVariable: (a) => this.setVariable(a),
    evaluate: (a) => this.evaluate(a),
    readMemory: (a) => this.readMemory(a),
    writeMemory: (a) => this.writeMemory(a),
    disassemble: (a) => this.disassemble(a),
    source: (a) => ({ content: this.code.text(integer(a, 'sourceReference', 1, Number.MAX_SAFE_INTEGER)) }),
    continue: (a) => this.movement(a, (rt) => rt.continue(), { allThreadsContinued: true }, true),
    next: (a) => this.step(a, false),
    stepIn: (a) => this.step(a, false),
    stepOut: (a) => this.step(a, false),
    stepBack: (a) => this.step(a, true),
    reverseContinue: (a) => this.movement(a, (rt, thread) => rt.reverseContinue(thread)),
    pause: () => this.pause(),
    terminate: () => this.terminate(),
    disconnect: () => this.disconnect(),
    'lockstep/runToInstruction': (a) => this.runToInstruction(a),
    'lockstep/logEntries': (a) => this.logEntries(a),
    'lockstep/epochs': (a) => this.epochs(a),
    'lockstep/failover': async () => ({ newPrimary: await this.ft().failover() }),
    'lockstep/injectFault': (a) => this.injectFault(a),
    'lockstep/service': () => ({ address: this.runtime instanceof FtRuntime ? this.runtime.service() : undefined }),
  };

  constructor(private readonly options: SessionOptions = {}) {
    super();
    this.setDebuggerLinesStartAt1(true);
    this.setDebuggerColumnsStartAt1(true);
  }

  protected override dispatchRequest(request: DebugProtocol.Request): void {
    const response: DebugProtocol.Response = new Response(request);
    const handler = Object.hasOwn(this.handlers, request.command) ? this.handlers[request.command] : undefined;
    const args = request.arguments && typeof request.arguments === 'object' && !Array.isArray(request.arguments) ? (request.arguments as Args) : {};
    Promise.resolve()
      .then(() => {
        if (!handler) throw new ArgumentError(`unsupported request '${request.command}'`);
        if (request.arguments !== undefined && args !== request.arguments) throw new ArgumentError(`the arguments of '${request.command}' must be an object, got ${JSON.stringify(request.arguments)}`);
        return handler(args);
      })
      .then(
        (body) => {
          response.body = body ?? {};
          this.sendResponse(response);
        },
        // The console, watches and hovers show an evaluation's error where it was asked: no notification too.
        (error: unknown) => this.fail(response, error, request.command !== 'evaluate'),
      );
  }

  private get showsMemory(): boolean {
    return this.options.memoryView !== false;
  }

  private fail(response: DebugProtocol.Response, error: unknown, showUser = true): void {
    const message = error instanceof Error ? error.message : String(error);
    response.success = false;
    response.message = message;
    response.body = { error: { id: 1, format: '{_message}', variables: { _message: message }, showUser } };
    this.sendResponse(response);
  }

  /** Ends the session's machines (hosts included) before the adapter goes away. */
  override shutdown(): void {
    void this.end().finally(() => {
      this.options.onEnd?.();
      super.shutdown();
    });
  }

  private end(): Promise<void> {
    this.terminating ??= this.runtime?.terminate().catch(() => undefined) ?? Promise.resolve();
    return this.terminating;
  }

  // ---- starting ----

  private initialize(args: Args): DebugProtocol.Capabilities {
    this.invalidates = args.supportsInvalidatedEvent === true;
    return {
      supportsConfigurationDoneRequest: true,
      supportsStepBack: true,
      supportsInstructionBreakpoints: true,
      supportsDataBreakpoints: true,
      supportsDataBreakpointBytes: true,
      supportsDisassembleRequest: true,
      supportsReadMemoryRequest: true,
      supportsWriteMemoryRequest: true,
      supportsSteppingGranularity: true,
      supportsSetVariable: true,
      supportsEvaluateForHovers: true,
      supportsTerminateRequest: true,
    };
  }

  private async launch(args: Args): Promise<undefined> {
    if (this.runtime) throw new ArgumentError('this session has already launched');
    const config = parseLaunch(args);
    const runtime = config.kind === 'ft' ? new FtRuntime(config, this.options.launcher) : new LocalRuntime(config);
    this.runtime = runtime;
    this.config = config;
    this.listen(runtime);
    try {
      await runtime.launch();
    } catch (error) {
      this.runtime = undefined;
      await runtime.terminate().catch(() => undefined);
      throw error;
    }
    setImmediate(() => this.sendEvent(new InitializedEvent()));
    return undefined;
  }

  private listen(runtime: Runtime): void {
    runtime.on('stopped', (note) => {
      this.handles.reset();
      this.focus = note.threadId;
      const event = new StoppedEvent(note.reason, note.threadId) as DebugProtocol.StoppedEvent;
      event.body = { ...event.body, description: note.description, text: note.text, allThreadsStopped: true };
      this.sendEvent(event);
    });
    runtime.on('thread', (reason, threadId) => this.sendEvent(new ThreadEvent(reason, threadId)));
    runtime.on('output', (category, output) => this.sendEvent(new OutputEvent(output, category)));
    runtime.on('custom', ({ event, body }) => this.sendEvent(new Event(event, body)));
  }

  private async configurationDone(): Promise<undefined> {
    const runtime = this.rt();
    if (this.begun) throw new ArgumentError('configurationDone was already received: the session has begun');
    this.begun = true;
    await runtime.begin(this.config!);
    return undefined;
  }

  private rt(): Runtime {
    if (this.terminating) throw new ArgumentError('the session has ended');
    if (!this.runtime) throw new ArgumentError('the session has not launched yet');
    return this.runtime;
  }

  private ft(): FtRuntime {
    const runtime = this.rt();
    if (!(runtime instanceof FtRuntime)) throw new ArgumentError('this session has no FT pair (it is a log replay or a single machine)');
    return runtime;
  }

  private list(args: Args, name: string): unknown[] {
    const value = args[name] ?? [];
    if (!Array.isArray(value)) throw new ArgumentError(`'${name}' must be a list, got ${JSON.stringify(value)}`);
    return value;
  }

  private thread(args: Args, name = 'threadId'): number {
    const id = args[name];
    if (typeof id !== 'number' || !Number.isSafeInteger(id)) throw new ArgumentError(`'${name}' must be a thread id (a whole number), got ${JSON.stringify(id)}`);
    return this.rt().target(id).threadId;
  }

  // ---- breakpoints ----

  private setSourceBreakpoints(args: Args): DebugProtocol.SetBreakpointsResponse['body'] {
    return { breakpoints: this.list(args, 'breakpoints').map(() => ({ verified: false, message: 'Lockstep debugs machine code: set breakpoints in the disassembly view (instruction breakpoints)' })) };
  }

  private setInstructionBreakpoints(args: Args): DebugProtocol.SetInstructionBreakpointsResponse['body'] {
    const requested = this.list(args, 'breakpoints').map((b, i) => {
      if (!b || typeof b !== 'object') throw new ArgumentError(`breakpoint ${i} must be an object, got ${JSON.stringify(b)}`);
      const { instructionReference, offset } = b as Args;
      return address(instructionReference, `breakpoints[${i}].instructionReference`, offset ?? 0);
    });
    this.rt().setBreakpoints(requested);
    return { breakpoints: requested.map((at) => ({ verified: true, instructionReference: word(at) })) };
  }

  /**
   * A data breakpoint for a console expression (see `watchOf`); with `asAddress`, `bytes` from that address.
   */
  private async dataBreakpointInfo(args: Args): Promise<DebugProtocol.DataBreakpointInfoResponse['body']> {
    const name = text(args, 'name').trim();
    let watch: Watch;
    if (args.asAddress === true) {
      watch = { address: address(name, 'name'), length: integer(args, 'bytes', 1, MAX_WATCH, 1) };
    } else {
      const threadId = args.frameId === undefined ? this.memoryThread() : this.thread(args, 'frameId');
      try {
        watch = await this.watchOf(threadId, name);
      } catch (error) {
        return { dataId: null, description: `${name}: ${(error as Error).message}` };
      }
    }
    const { address: at, length } = watch;
    return { dataId: `${word(at)}:${length}`, description: bytesAt(at, length), accessTypes: ['write'], canPersist: true };
  }

  /** What an expression watches: a memory expression what it reads; a register or a number, the dword it points to. */
  private async watchOf(threadId: number, expression: string): Promise<Watch> {
    const result = await this.evaluateOn(threadId, expression);
    if (result.address !== undefined) return { address: result.address, length: result.size };
    return { address: Number(result.value & 0xffffffffn), length: 4 };
  }

  private setDataBreakpoints(args: Args): DebugProtocol.SetDataBreakpointsResponse['body'] {
    const requested = this.list(args, 'breakpoints').map((b, i) => {
      const { dataId, accessType } = (b && typeof b === 'object' ? b : {}) as Args;
      const match = typeof dataId === 'string' ? /^0x([0-9a-f]{8}):(\d+)$/i.exec(dataId) : null;
      const length = Number(match?.[2]);
      if (!match || length < 1 || length > MAX_WATCH) {
        throw new ArgumentError(`breakpoints[${i}].dataId must be one dataBreakpointInfo gave, got ${JSON.stringify(dataId)}`);
      }
      return { address: parseInt(match[1], 16), length, writes: accessType === undefined || accessType === 'write' };
    });
    const writes = requested.filter((r) => r.writes);
    this.watches.setClient(writes.map(({ address: at, length }) => ({ address: at, length })));
    return {
      breakpoints: requested.map((r) => (r.writes
        ? { verified: true, description: bytesAt(r.address, r.length) }
        : { verified: false, message: 'Lockstep stops at writes (that change the bytes), not at reads' })),
    };
  }

  // ---- where the machines are ----

  private async stackTrace(args: Args): Promise<DebugProtocol.StackTraceResponse['body']> {
    const threadId = this.thread(args);
    this.focus = threadId;
    let state;
    try {
      state = await this.rt().state(threadId);
    } catch (error) {
      const frame = { id: threadId, name: `(${(error as Error).message})`, line: 0, column: 0 };
      return { stackFrames: [{ ...frame, presentationHint: 'label' }], totalFrames: 1 };
    }
    const { cs, eip } = state.registers;
    const { data } = await this.rt().read(threadId, eip, MAX_INSTRUCTION_BYTES);
    const current = decode(data, eip, state.bits, 1)[0]?.text ?? '??';
    const { source, line } = await this.code.frame(state, this.reader(threadId));
    const name = `${hex(cs, 4)}:${hex(eip)}  ${current}`;
    const frame: DebugProtocol.StackFrame = {
      id: threadId, name, source, line, column: 1, instructionPointerReference: word(eip),
    };
    return { stackFrames: [frame], totalFrames: 1 };
  }

  private scopes(args: Args): DebugProtocol.ScopesResponse['body'] {
    const threadId = this.thread(args, 'frameId');
    this.focus = threadId;
    return {
      scopes: SCOPES.map((scope) => ({
        name: scope,
        variablesReference: this.handles.create({ threadId, scope }),
        expensive: false,
        ...(scope === 'Registers' ? { presentationHint: 'registers' } : {}),
      })),
    };
  }

  private handle(args: Args): Handle {
    const reference = integer(args, 'variablesReference', 1, Number.MAX_SAFE_INTEGER);
    const handle = this.handles.get(reference);
    if (!handle) throw new ArgumentError(`no variables under reference ${reference} (references last until the next stop)`);
    return handle;
  }

  private async variables(args: Args): Promise<DebugProtocol.VariablesResponse['body']> {
    const handle = this.handle(args);
    const nodes = 'nodes' in handle ? handle.nodes : await this.scopeNodes(handle.threadId, handle.scope);
    return {
      variables: nodes.map((node) => ({
        name: node.name,
        value: node.value,
        variablesReference: node.children?.length
          ? this.handles.create({ threadId: handle.threadId, nodes: node.children })
          : 0,
        ...(node.memoryReference && this.showsMemory ? { memoryReference: node.memoryReference } : {}),
        ...(node.evaluateName ? { evaluateName: node.evaluateName } : {}),
      })),
    };
  }

  private async scopeNodes(threadId: number, scope: ScopeName): Promise<VariableNode[]> {
    const runtime = this.rt();
    let state;
    try {
      state = await runtime.state(threadId);
    } catch (error) {
      // A backup before its machine or first checkpoint: a state to show, not a request that failed.
      if (error instanceof NothingToShowYet) return [{ name: 'nothing to show yet', value: error.message }];
      throw error;
    }
    return scopeVariables(scope, state, scope === 'Divergence' ? await runtime.divergence() : undefined);
  }

  private async setVariable(args: Args): Promise<DebugProtocol.SetVariableResponse['body']> {
    const handle = this.handle(args);
    if (!('scope' in handle) || handle.scope !== 'Registers') throw new ArgumentError('only registers can be set (eax ... edi, eip)');
    const name = text(args, 'name');
    const value = fitTo32Bits(name, await this.evaluateOn(handle.threadId, text(args, 'value')));
    const state = await this.rt().setRegister(handle.threadId, name, value);
    return { value: word(registerValue(state.registers, name)!.value) };
  }

  // ---- the debug console ----

  private async evaluate(args: Args): Promise<DebugProtocol.EvaluateResponse['body']> {
    const expression = text(args, 'expression').trim();
    const threadId = args.frameId === undefined ? this.focus ?? this.rt().leadThread : this.thread(args, 'frameId');
    if (isCommand(expression)) return { result: await this.console.run(expression, threadId), variablesReference: 0 };
    const assignment = /^([a-z]\w*)\s*=(?!=)\s*(.+)$/i.exec(expression);
    if (assignment) return this.assign(threadId, assignment[1], assignment[2]);
    const result = await this.evaluateOn(threadId, expression);
    const pointer = result.address ?? (result.size === 4 ? Number(result.value) : undefined);
    return {
      result: formatValue(result.value, result.size),
      variablesReference: 0,
      ...(pointer === undefined || !this.showsMemory ? {} : { memoryReference: word(pointer) }),
    };
  }

  /** `eax = expr`: sets a register (those the Registers scope can set); anything else says how. */
  private async assign(threadId: number, name: string, expression: string): Promise<DebugProtocol.EvaluateResponse['body']> {
    if (!WRITABLE.includes(name.toLowerCase())) {
      const how = 'memory is written in the Memory view (or with writeMemory)';
      throw new ArgumentError(`only ${WRITABLE.join(', ')} can be assigned here; ${how}`);
    }
    const value = fitTo32Bits(name, await this.evaluateOn(threadId, expression));
    const state = await this.rt().setRegister(threadId, name, value);
    if (this.invalidates) this.sendEvent(new InvalidatedEvent(['variables'], threadId));
    const now = registerValue(state.registers, name)!.value;
    return { result: `${name.toLowerCase()} = ${word(now)}`, variablesReference: 0 };
  }

  private async evaluateOn(threadId: number, expression: string) {
    const runtime = this.rt();
    const { registers } = await runtime.state(threadId);
    return evaluateExpression(expression, {
      registers,
      read: async (at: number, size: Size) => {
        const { data } = await runtime.read(threadId, at, size);
        if (data.length < size) throw new ExpressionError(`memory at 0x${hex(at)} cannot be read`);
        return data;
      },
    });
  }

  // ---- memory and code ----

  private memoryThread(): number {
    return this.focus ?? this.rt().leadThread;
  }

  private async readMemory(args: Args): Promise<DebugProtocol.ReadMemoryResponse['body']> {
    const at = address(args.memoryReference, 'memoryReference', args.offset ?? 0);
    const count = integer(args, 'count', 0, MAX_READ);
    const { data, unreadable } = await this.rt().read(this.memoryThread(), at, Math.min(count, 2 ** 32 - at));
    return { address: word(at), data: Buffer.from(data).toString('base64'), unreadableBytes: unreadable + count - Math.min(count, 2 ** 32 - at) };
  }

  private async writeMemory(args: Args): Promise<DebugProtocol.WriteMemoryResponse['body']> {
    const at = address(args.memoryReference, 'memoryReference', args.offset ?? 0);
    if (typeof args.data !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(args.data) || args.data.length % 4 !== 0) throw new ArgumentError(`'data' must be base64, got ${JSON.stringify(args.data)}`);
    const bytes = Buffer.from(args.data, 'base64');
    if (at + bytes.length > 2 ** 32) throw new ArgumentError('the write runs past the 32-bit address space');
    await this.rt().write(this.memoryThread(), at, bytes);
    return { bytesWritten: bytes.length };
  }

  private async disassemble(args: Args): Promise<DebugProtocol.DisassembleResponse['body']> {
    // VS Code asks with an empty reference when a frame has no instruction pointer: nothing to show.
    if (args.memoryReference === '') return { instructions: [] };
    const at = address(args.memoryReference, 'memoryReference', args.offset ?? 0);
    const offset = integer(args, 'instructionOffset', -10_000, 10_000, 0);
    const count = integer(args, 'instructionCount', 0, 10_000);
    const threadId = this.memoryThread();
    const state = await this.rt().state(threadId);
    return { instructions: await this.code.disassemble(state, at, offset, count, this.reader(threadId)) };
  }

  private reader(threadId: number): Reader {
    return async (at, length) => (await this.rt().read(threadId, at, length)).data;
  }

  // ---- moving ----

  /**
   * Answers at once, then moves (the stopped event follows, as DAP wants); problems that can be seen
   * first (an unknown thread, a running session) are error responses instead.
   */
  private movement(
    args: Args,
    move: (runtime: Runtime, threadId: number) => Promise<unknown>,
    body: object = {},
    whileRunning = false,
  ): object {
    const runtime = this.rt();
    const threadId = args.threadId === undefined ? runtime.leadThread : this.thread(args);
    if (!whileRunning && runtime.isRunning) throw new SessionBusy('the session is running: pause it first');
    setImmediate(() => void move(runtime, threadId).catch((error: Error) => this.sendEvent(new OutputEvent(`${error.message}\n`, 'stderr'))));
    return body;
  }

  private pause(): object {
    const runtime = this.rt();
    setImmediate(() => void runtime.pause().catch((error: Error) => this.sendEvent(new OutputEvent(`pause: ${error.message}\n`, 'stderr'))));
    return {};
  }

  private async runToInstruction(args: Args): Promise<{ instruction: number }> {
    const threadId = this.thread(args);
    const instruction = integer(args, 'instruction', 0, Number.MAX_SAFE_INTEGER);
    return { instruction: (await this.goTo(threadId, instruction)).position };
  }

  /**
   * Runs every machine to `instruction` for a request that does not tell VS Code they move (a custom
   * request, a console command), so a `continued` event does; the runtime's `stopped` event follows,
   * as after any movement. runTo refuses what it cannot do before anything moves, and the lead's
   * answer comes back asynchronously, so the event goes out for a real movement and before its stop.
   */
  private goTo(threadId: number, instruction: number): Promise<DebugState> {
    const moving = this.rt().runTo(threadId, instruction);
    this.sendEvent(new ContinuedEvent(threadId, true));
    return moving;
  }

  // ---- the log, faults ----

  private async logEntries(args: Args): Promise<object> {
    const from = integer(args, 'from', 0, Number.MAX_SAFE_INTEGER, 1);
    const count = integer(args, 'count', 0, MAX_ENTRIES, 100);
    const filter = args.filter === undefined ? undefined : this.list(args, 'filter');
    const bad = filter?.find((kind) => !ENTRY_KINDS.includes(kind as EntryKind));
    if (bad !== undefined) throw new ArgumentError(`'filter' takes entry kinds (${ENTRY_KINDS.join(', ')}), got ${JSON.stringify(bad)}`);
    return this.rt().logEntries(from, count, filter as EntryKind[] | undefined);
  }

  private async epochs(args: Args): Promise<object> {
    return { epochs: await this.rt().epochs(this.thread(args)) };
  }

  private injectFault(args: Args): object {
    const kind = args.kind;
    if (!isFaultKind(kind)) throw new ArgumentError(`'kind' must be one of ${FAULT_KIND_NAMES.join(', ')}, got ${JSON.stringify(kind)}`);
    if (args.value !== undefined && (typeof args.value !== 'number' || !Number.isFinite(args.value))) throw new ArgumentError(`'value' must be a number, got ${JSON.stringify(args.value)}`);
    this.ft().injectFault(kind, args.value as number | undefined);
    return {};
  }

  private async terminate(): Promise<object> {
    await this.end();
    this.sendEvent(new TerminatedEvent());
    return {};
  }

  /** Every step is one instruction (Lockstep has no source lines): any granularity DAP names means that. */
  private step(args: Args, back: boolean): object {
    const { granularity } = args;
    if (granularity !== undefined && !GRANULARITIES.includes(granularity as string)) {
      throw new ArgumentError(`'granularity' must be one of ${GRANULARITIES.join(', ')}, got ${JSON.stringify(granularity)}`);
    }
    return this.movement(args, (rt, thread) => rt.step(thread, back));
  }

  private async disconnect(): Promise<object> {
    await this.end();
    setImmediate(() => this.shutdown());
    return {};
  }
}
