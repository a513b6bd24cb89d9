// Running the adapter: inline (the extension makes a session per debug session with
// createLockstepSession), over stdio (`lockstep dap`) or over TCP (`lockstep dap --port N`, one
// session per connection), so any DAP client can use it.
import { AddressInfo, Server, createServer } from 'node:net';
import { LockstepDebugSession, SessionOptions } from './session';

export function createLockstepSession(options: SessionOptions = {}): LockstepDebugSession {
  return new LockstepDebugSession(options);
}

/** The adapter on this process's stdin/stdout; the process ends with the session. */
export function runStdio(options: SessionOptions = {}): LockstepDebugSession {
  keepGoingOnStrayErrors();
  const session = createLockstepSession(options);
  process.on('SIGTERM', () => session.shutdown());
  session.start(process.stdin, process.stdout);
  return session;
}

/** The adapter on a TCP port of 127.0.0.1 (port 0: any free one): a session per connection. */
export async function serveTcp(port: number, options: SessionOptions = {}, host = '127.0.0.1'): Promise<Server> {
  keepGoingOnStrayErrors();
  const server = createServer((socket) => {
    const session = createLockstepSession(options);
    session.setRunAsServer(true);
    session.start(socket, socket);
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
  return server;
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
