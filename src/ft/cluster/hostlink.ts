// How the cluster reaches a host process: a child process on this machine (IPC), or a
// `lockstep host --listen ADDR` agent anywhere (JSON lines over TCP, after a token). Both carry the
// same messages (hostprotocol.ts), so the cluster does not care where its hosts run.
import { fork } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Socket, connect, createServer } from 'node:net';
import type { HostMessage, HostReport } from './hostprotocol';

type LinkEvents = {
  message: [report: HostReport];
  exit: [code: number | null, signal: string | null];
  stderr: [line: string];
};

export interface HostLink extends EventEmitter<LinkEvents> {
  send(message: HostMessage): void;
  /** Ends the host at once, as a crash would. */
  kill(): void;
  readonly alive: boolean;
  /** The host's process id, when it is a child process of this one. */
  readonly pid?: number;
}

export interface HostLauncher { script: string; execArgv: string[] }

/** A host as a child process of this one, running `lockstep host`. */
export function forkHost(launcher: HostLauncher): HostLink {
  const child = fork(launcher.script, ['host'], { execArgv: launcher.execArgv, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  const link = new EventEmitter<LinkEvents>() as HostLink;
  let alive = true;
  Object.defineProperty(link, 'alive', { get: () => alive });
  Object.defineProperty(link, 'pid', { value: child.pid });
  link.send = (message) => { if (child.connected) child.send(message); };
  link.kill = () => child.kill('SIGKILL');
  // A send racing the child's death fails with EPIPE: the 'exit' event tells that story.
  child.on('error', () => undefined);
  child.on('message', (report: HostReport) => link.emit('message', report));
  child.stderr!.on('data', (chunk: Buffer) => chunk.toString().split('\n').filter(Boolean).forEach((line) => link.emit('stderr', line)));
  child.once('exit', (code, signal) => {
    alive = false;
    link.emit('exit', code, signal);
  });
  return link;
}

/** Longest host protocol message taken (a host's final stats are the largest, far below this). */
const MAX_MESSAGE_LINE = 16 * 1024 * 1024;

/** Splits a byte stream into JSON messages, one per line; a peer sending endless bytes is cut off. */
function onJsonLines<T>(socket: Socket, handle: (message: T) => void): void {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  socket.on('data', (chunk: Buffer) => {
    let start = 0;
    for (let end = chunk.indexOf(0x0a); end >= 0; end = chunk.indexOf(0x0a, start)) {
      const line = Buffer.concat([...pending, chunk.subarray(start, end)]).toString('utf8');
      pending = [];
      pendingBytes = 0;
      start = end + 1;
      try {
        handle(JSON.parse(line) as T);
      } catch {
        return void socket.destroy(new Error(`malformed host protocol message: ${line.slice(0, 80)}`));
      }
    }
    pending.push(chunk.subarray(start));
    pendingBytes += chunk.length - start;
    if (pendingBytes > MAX_MESSAGE_LINE) socket.destroy(new Error(`host protocol message longer than ${MAX_MESSAGE_LINE} bytes`));
  });
}

const writeJson = (socket: Socket, message: unknown) => socket.write(`${JSON.stringify(message)}\n`);

/** A host in a `lockstep host --listen` agent, possibly on another machine. */
export function connectAgent(address: { host: string; port: number }, token: string): Promise<HostLink> {
  return new Promise((resolve, reject) => {
    const socket = connect(address);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      const link = new EventEmitter<LinkEvents>() as HostLink;
      Object.defineProperty(link, 'alive', { get: () => !socket.destroyed });
      link.send = (message) => { if (!socket.destroyed) writeJson(socket, message); };
      link.kill = () => { if (!socket.destroyed) writeJson(socket, { type: 'die' }); };
      let answered = false;
      onJsonLines<HostReport>(socket, (report) => {
        answered = true;
        link.emit('message', report);
      });
      socket.on('error', () => socket.destroy());
      // An agent hangs up at once on a wrong token.
      socket.once('close', () => link.emit('exit', null, answered ? 'agent connection closed' : 'the agent closed the connection before answering (a wrong --agent-token?)'));
      writeJson(socket, { type: 'hello', token });
      resolve(link);
    });
  });
}

export class AgentError extends Error {
  override name = 'AgentError';
}

/**
 * The agent side: serves one host session for the first client that presents `token`, then exits
 * with it (a host is one machine's lifetime). `serve` runs the host with the given channels.
 */
export function listenAsAgent(
  address: { host: string; port: number },
  token: string,
  serve: (receive: (handler: (message: HostMessage) => void) => void, send: (report: HostReport) => void) => void,
): Promise<{ port: number }> {
  const expected = Buffer.from(token);
  let taken = false;
  const server = createServer((socket) => {
    let authenticated = false;
    const handlers: ((message: HostMessage) => void)[] = [];
    onJsonLines<HostMessage | { type: 'hello' | 'die'; token?: string }>(socket, (message) => {
      if (!authenticated) {
        const given = Buffer.from(('token' in message && message.token) || '');
        if (message.type !== 'hello' || taken || given.length !== expected.length || !timingSafeEqual(given, expected)) {
          return void socket.destroy();
        }
        authenticated = taken = true;
        server.close();
        return serve((handler) => handlers.push(handler), (report) => writeJson(socket, report));
      }
      if (message.type === 'die') process.kill(process.pid, 'SIGKILL');
      else if (message.type !== 'hello') handlers.forEach((handler) => handler(message as HostMessage));
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => { if (authenticated) process.exit(0); });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (error) => reject(new AgentError(`cannot listen on ${address.host}:${address.port}: ${error.message}`)));
    server.listen(address.port, address.host, () => resolve({ port: (server.address() as { port: number }).port }));
  });
}
