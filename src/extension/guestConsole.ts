// The guest's serial port as a VS Code terminal (a Pseudoterminal). The console is one more client of
// the FT session's service address (src/ft/replication/service.ts): a typed line goes to the live primary, which
// logs it as an input like any client's, so the backup applies it too; the guest's released output
// comes back. After a failover the new primary owns the same address, so the console reconnects.
// Only type imports from `vscode`: the unit tests run this without VS Code.
import { connect, type Socket } from 'node:net';
import type * as vscode from 'vscode';

export interface ServiceAddress { host: string; port: number }

/** Just enough of vscode.EventEmitter, so this file needs no VS Code at run time. */
class Emitter<T> {
  private listeners = new Set<(value: T) => void>();
  readonly event = (listener: (value: T) => void): vscode.Disposable => {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  };
  fire(value: T): void {
    for (const listener of [...this.listeners]) listener(value);
  }
}

const RECONNECT_MS = 250;
const ERASE_LINE = '\r\x1b[K';

/** Guest output for a terminal: line feeds become CRLF (the guest sends bare LF). */
export function toTerminal(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}

/**
 * A line editor over the service: typing echoes locally and is sent as a whole line on Enter (the
 * service only takes whole lines, and a half-typed line must not reach the guest).
 */
export class GuestConsole implements vscode.Pseudoterminal {
  private readonly writes = new Emitter<string>();
  private readonly closes = new Emitter<number | void>();
  readonly onDidWrite = this.writes.event;
  readonly onDidClose = this.closes.event;
  private socket: Socket | undefined;
  private line = '';
  private closed = false;
  private everConnected = false;
  private readonly decoder = new TextDecoder();

  constructor(
    /** Asked again on every (re)connect: undefined while the session has no service (yet). */
    private readonly address: () => Promise<ServiceAddress | undefined>,
    private readonly title: string,
  ) {}

  open(): void {
    this.writes.fire(`\x1b[2m${this.title}: lines you type go to the guest's serial port through the log.\x1b[0m\r\n`);
    void this.connect();
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
  }

  /** Ends the console from outside (the debug session ended). */
  end(reason: string): void {
    if (this.closed) return;
    this.writes.fire(`\r\n\x1b[2m[${reason}]\x1b[0m\r\n`);
    this.close();
    this.closes.fire();
  }

  handleInput(data: string): void {
    for (const ch of data) this.key(ch);
  }

  private key(ch: string): void {
    if (ch === '\r' || ch === '\n') return this.submit();
    if (ch === '\x7f' || ch === '\b') {
      if (this.line.length === 0) return;
      this.line = this.line.slice(0, -1);
      return this.writes.fire('\b \b');
    }
    if (ch === '\x03') {
      this.line = '';
      return this.writes.fire('^C\r\n');
    }
    if (ch === '\x15') {
      this.line = '';
      return this.writes.fire(ERASE_LINE);
    }
    if (ch < ' ' || ch === '\x1b') return; // other control keys and escape sequences: nothing to send
    this.line += ch;
    this.writes.fire(ch);
  }

  private submit(): void {
    const line = this.line;
    this.line = '';
    this.writes.fire('\r\n');
    if (!this.socket || this.socket.destroyed || this.socket.connecting) {
      this.writes.fire(`\x1b[33m[not connected: "${line}" was not sent]\x1b[0m\r\n`);
      return;
    }
    this.socket.write(`${line}\n`);
  }

  /** Shows guest output above the line being typed, then redraws that line. */
  private output(chunk: Buffer): void {
    const text = toTerminal(this.decoder.decode(chunk, { stream: true }));
    this.writes.fire(this.line ? `${ERASE_LINE}${text}${this.line}` : text);
  }

  private async connect(): Promise<void> {
    while (!this.closed) {
      const address = await this.address().catch(() => undefined);
      if (address && !this.closed && (await this.attach(address))) return;
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
    }
  }

  /** Connects once; resolves false if the connection failed, true once it is up. */
  private attach(address: ServiceAddress): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = connect(address);
      socket.setNoDelay(true);
      this.socket = socket;
      socket.once('connect', () => {
        const what = this.everConnected ? 'reconnected' : `connected to ${address.host}:${address.port}`;
        this.writes.fire(`${ERASE_LINE}\x1b[2m[${what}]\x1b[0m\r\n${this.line}`);
        this.everConnected = true;
        resolve(true);
        socket.once('close', () => this.reconnect());
      });
      socket.on('data', (chunk) => this.output(chunk));
      socket.once('error', () => {
        socket.destroy();
        resolve(false);
      });
    });
  }

  // The primary went away (a failover): the next primary binds the same address.
  private reconnect(): void {
    if (this.closed) return;
    this.writes.fire(`${ERASE_LINE}\x1b[2m[service connection lost; reconnecting]\x1b[0m\r\n${this.line}`);
    void this.connect();
  }
}
