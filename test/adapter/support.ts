// Driving the real debug adapter from tests: `lockstep dap` run from source over stdio (as any DAP
// client runs it), its FT hosts real processes, with helpers for what the tests read back.
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { ChannelEventBody } from '../../src/adapter/protocol';

const REPO = join(__dirname, '..', '..');
const EVENT_TIMEOUT_MS = 60_000;

export type Stopped = DebugProtocol.StoppedEvent['body'];

export class Adapter {
  readonly dc: DebugClient;
  /** Every custom event received, by name. */
  readonly events = new Map<string, unknown[]>();

  private constructor(netns?: string) {
    // DebugClient spawns `runtime executable`; the shell lets the runtime carry tsx's loader (and `ip netns exec`).
    const runtime = `${netns ? `ip netns exec ${netns} ` : ''}"${process.execPath}" --import tsx src/cli.ts`;
    this.dc = new DebugClient(runtime, 'dap', 'lockstep', { shell: true, cwd: REPO }, !!process.env.LOCKSTEP_DAP_STDERR);
    this.dc.defaultTimeout = EVENT_TIMEOUT_MS;
    const events = ['lockstep/channel', 'lockstep/entries', 'lockstep/output', 'lockstep/divergence', 'lockstep/failover', 'lockstep/views'];
    for (const event of events) {
      this.dc.on(event, (e: DebugProtocol.Event) => {
        this.events.set(event, [...(this.events.get(event) ?? []), e.body]);
      });
    }
  }

  /** Starts the adapter, inside the network namespace `netns` if given (a launch with `tap`). */
  static async start(netns?: string): Promise<Adapter> {
    const adapter = new Adapter(netns);
    await adapter.dc.start();
    return adapter;
  }

  /** Launches; with stopOnEntry resolves with the entry stop. */
  async launch(args: Record<string, unknown>): Promise<Stopped | undefined> {
    const entry = args.stopOnEntry ? this.nextStop() : undefined;
    await Promise.all([this.dc.configurationSequence(), this.dc.launch(args)]);
    return entry;
  }

  /** The next stopped event (register before acting, so it cannot be missed). */
  nextStop(timeoutMs = EVENT_TIMEOUT_MS): Promise<Stopped> {
    return this.dc.waitForEvent('stopped', timeoutMs).then((e) => (e as DebugProtocol.StoppedEvent).body);
  }

  /** Does `action` and resolves with the stop it leads to. */
  async stopAfter(action: () => Promise<unknown>, timeoutMs = EVENT_TIMEOUT_MS): Promise<Stopped> {
    const stop = this.nextStop(timeoutMs);
    await action();
    return stop;
  }

  step(threadId: number): Promise<Stopped> {
    return this.stopAfter(() => this.dc.stepInRequest({ threadId, granularity: 'instruction' }));
  }

  stepBack(threadId: number): Promise<Stopped> {
    return this.stopAfter(() => this.dc.stepBackRequest({ threadId, granularity: 'instruction' }));
  }

  async runTo(threadId: number, instruction: number): Promise<number> {
    const response = await this.dc.customRequest('lockstep/runToInstruction', { threadId, instruction });
    return (response.body as { instruction: number }).instruction;
  }

  /** The variables of one scope of a thread, by name. */
  async scope(threadId: number, name: string): Promise<Record<string, string>> {
    const reference = await scopeReference(this, name, threadId);
    const variables = await this.dc.variablesRequest({ variablesReference: reference });
    return Object.fromEntries(variables.body.variables.map((v) => [v.name, v.value]));
  }

  async instructions(threadId: number): Promise<number> {
    return Number((await this.scope(threadId, 'Clock')).instructions.replace(/,/g, ''));
  }

  async slice(threadId: number): Promise<{ from: number; to: number } | undefined> {
    const match = /^([\d,]+) to ([\d,]+)/.exec((await this.scope(threadId, 'Clock')).slice);
    return match ? { from: Number(match[1].replace(/,/g, '')), to: Number(match[2].replace(/,/g, '')) } : undefined;
  }

  async eip(threadId: number): Promise<number> {
    const trace = await this.dc.stackTraceRequest({ threadId });
    return Number(trace.body.stackFrames[0].instructionPointerReference);
  }

  /** Memory as the thread's machine has it (the memory requests read the thread last looked at). */
  async read(threadId: number, address: number, count: number): Promise<Buffer> {
    await this.dc.stackTraceRequest({ threadId });
    const response = await this.dc.send('readMemory', { memoryReference: `0x${address.toString(16)}`, count });
    return Buffer.from((response.body as { data?: string }).data ?? '', 'base64');
  }

  async write(threadId: number, address: number, data: Uint8Array): Promise<void> {
    await this.dc.stackTraceRequest({ threadId });
    await this.dc.send('writeMemory', { memoryReference: `0x${address.toString(16)}`, data: Buffer.from(data).toString('base64') });
  }

  /** The whole response to a request, failed or not (DebugClient keeps only a failure's message). */
  response(command: string, args: object): Promise<DebugProtocol.Response> {
    // doSend is DebugClient's own (private in its types): it hands over the response as it came.
    type Send = (command: string, args: object, done: (response: DebugProtocol.Response) => void) => void;
    const client = this.dc as unknown as { doSend: Send };
    return new Promise((resolve) => client.doSend(command, args, resolve));
  }

  async threads(): Promise<Record<number, string>> {
    const response = await this.dc.threadsRequest();
    return Object.fromEntries(response.body.threads.map((t) => [t.id, t.name]));
  }

  async epochs(threadId: number): Promise<{ index: number; at: number; hash: string }[]> {
    const response = await this.dc.customRequest('lockstep/epochs', { threadId });
    return (response.body as { epochs: { index: number; at: number; hash: string }[] }).epochs;
  }

  async stop(): Promise<void> {
    await this.dc.stop();
  }
}

/** The variablesReference of one of a thread's scopes. */
export async function scopeReference(adapter: Adapter, name: string, threadId = 1): Promise<number> {
  const scopes = await adapter.dc.scopesRequest({ frameId: threadId });
  const scope = scopes.body.scopes.find((s) => s.name === name);
  assert.ok(scope, `no scope ${name}`);
  return scope.variablesReference;
}

/** The first `lockstep/channel` event from now on that `accept` accepts. */
export function channelEvent(adapter: Adapter, accept: (body: ChannelEventBody) => boolean): Promise<ChannelEventBody> {
  return new Promise((resolve) => {
    const listener = (event: DebugProtocol.Event) => {
      if (!accept(event.body as ChannelEventBody)) return;
      adapter.dc.off('lockstep/channel', listener);
      resolve(event.body as ChannelEventBody);
    };
    adapter.dc.on('lockstep/channel', listener);
  });
}

/** mulberry32: seeded, so a failing count can be reproduced. */
export function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
