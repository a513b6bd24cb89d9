// Running the adapter: inline (the extension makes a session per debug session with
// createLockstepSession), over stdio (`lockstep dap`) or over TCP (`lockstep dap --port N`, one
// session per connection), so any DAP client can use it.
import { AddressInfo, Server, createServer } from 'node:net';
import { pipeline } from 'node:stream';
import { OutputEvent } from '@vscode/debugadapter';
import { DapFraming } from './framing';
import { LockstepDebugSession, SessionOptions } from './session';

export function createLockstepSession(options: SessionOptions = {}): LockstepDebugSession {
  return new LockstepDebugSession(options);
}

/** The adapter on this process's stdin/stdout; the process ends with the session. */
export function runStdio(options: SessionOptions = {}): LockstepDebugSession {
  keepGoingOnStrayErrors();
  const session = createLockstepSession(options);
  process.on('SIGTERM', () => session.shutdown());
  startGuarded(session, process.stdin, process.stdout, (message) => process.stderr.write(`lockstep dap: ${message}\n`));
  return session;
}

/** The adapter on a TCP port of 127.0.0.1 (port 0: any free one): a session per connection. */
export async function serveTcp(port: number, options: SessionOptions = {}, host = '127.0.0.1'): Promise<Server> {
  keepGoingOnStrayErrors();
  const server = createServer((socket) => {
    const session = createLockstepSession({ ...options, onEnd: () => socket.end() });
    session.setRunAsServer(true);
    startGuarded(session, socket, socket);
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  return server;
}

/**
 * Starts a standalone session behind the framing guard (framing.ts): a malformed message is
 * reported to the client (Debug Console) and to `log`, and skipped, where the library's own parser
 * would end the session or stop reading.
 */
function startGuarded(
  session: LockstepDebugSession,
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  log?: (message: string) => void,
): void {
  const guarded = new DapFraming((message) => {
    log?.(message);
    if (output.writable) session.sendEvent(new OutputEvent(`${message}\n`, 'stderr'));
  });
  // pipeline hands the input's end, failure or early close on to the guard, whose 'close' or
  // 'error' ends the session as the input's did before.
  pipeline(input, guarded, () => undefined);
  session.start(guarded, output);
}

export function serverPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}

/**
 * A standalone adapter serves sessions that must outlive one failed background task: report it
 * (stderr is not the protocol stream) rather than end every session with the process.
 */
function keepGoingOnStrayErrors(): void {
  if (process.listenerCount('unhandledRejection')) return;
  process.on('unhandledRejection', (error) => process.stderr.write(`lockstep dap: ${(error as Error)?.stack ?? error}\n`));
}
