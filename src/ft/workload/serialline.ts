// Waiting for the guest to say something on its serial port, e.g. the linux guest's kvd printing
// "kv ready": the event itself, not the instruction count it came at in one build of the guest. It
// listens on the service's TCP side, which sends every released serial output to every client, so
// it sees what is released once it is connected: open it before the guest can print the line
// (right after the cluster started). After a failover it connects again, to the new primary, and
// sees nothing the new primary released before that: a new primary may answer a request before a
// watch is back. So the answer to a request is awaited on the watch that sent it (`send`): it was
// connected when the request left, so the answer is released to it.
import { Socket, connect } from 'node:net';
import type { ServiceAddress } from '../replication';
import { LineReader } from './lines';

/** How much of the output a timeout shows. */
const SHOWN_TAIL = 200;
const RECONNECT_MS = 50;
const OPEN_TIMEOUT_MS = 60_000;

export class SerialWatch {
  private socket: Socket | undefined;
  private tail = '';
  private readonly seen = new Set<string>();
  private waiters: (() => void)[] = [];
  private closed = false;

  private constructor(private readonly service: ServiceAddress) {}

  /**
   * A watch connected to the service (it resolves once the first connection is made; it tries again every
   * RECONNECT_MS while nothing listens, e.g. during a failover, and gives up after `timeoutMs`).
   */
  static open(service: ServiceAddress, timeoutMs = OPEN_TIMEOUT_MS): Promise<SerialWatch> {
    const watch = new SerialWatch(service);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        watch.close();
        reject(new Error(`no service at ${service.host}:${service.port} took a connection within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      watch.connect(() => {
        clearTimeout(timer);
        resolve(watch);
      });
    });
  }

  /**
   * Resolves once the guest has printed `line` since the watch opened (a whole line; a CR before
   * its LF is ignored); rejects after `timeoutMs`, showing the last output.
   */
  async until(line: string, timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(
        `the guest did not print "${line}" within ${timeoutMs / 1000} s (its last output: ${JSON.stringify(this.tail)})`,
      )), timeoutMs);
    });
    const printed = new Promise<void>((resolve) => {
      const check = () => (this.seen.has(line) ? resolve() : this.waiters.push(check));
      check();
    });
    try {
      await Promise.race([printed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Sends `line` (with its newline) to the guest's serial port on this watch's connection, so that `until` sees
   * what the guest answers. Throws while the watch is not connected (reconnecting after a failover).
   */
  send(line: string): void {
    if (!this.socket || this.socket.connecting || this.socket.destroyed) {
      throw new Error(`the watch is not connected to the service at ${this.service.host}:${this.service.port}: open a new one to send "${line.trim()}"`);
    }
    this.socket.write(line);
  }

  close(): void {
    this.closed = true;
    this.socket?.destroy();
  }

  private connect(connected?: () => void): void {
    const socket = connect(this.service);
    this.socket = socket;
    const lines = new LineReader((line) => this.seen.add(line.replace(/\r$/, '')));
    socket.once('connect', () => connected?.());
    socket.on('data', (chunk) => this.receive(lines, chunk.toString('latin1')));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (!this.closed) setTimeout(() => this.connect(connected), RECONNECT_MS);
    });
  }

  private receive(lines: LineReader, text: string): void {
    this.tail = (this.tail + text).slice(-SHOWN_TAIL);
    lines.push(text);
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((check) => check());
  }
}
