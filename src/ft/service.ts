// The service endpoint: clients talk to "the service", not to a host. The live primary owns one TCP
// address; whole request lines from any client go to the guest's serial port (a line is never
// interleaved with another client's), and every released output goes to every client, which keep
// the replies addressed to them (kv replies start with the client id). After a failover the new
// primary binds the same address once the old one has let go of it.
import { createServer, Server, Socket } from 'node:net';
import { coalesceThisTurn } from './coalesce';

export interface ServiceAddress { host: string; port: number }

const MAX_LINE = 64 * 1024;

export class Service {
  private server: Server | undefined;
  private readonly clients = new Set<Socket>();
  private closed = false;

  constructor(private readonly address: ServiceAddress, private readonly onLine: (line: Uint8Array) => void) {}

  /** Binds the address, retrying while the previous owner still holds it. */
  async open(retryMs = 20, attempts = 500): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        this.server = await this.listen();
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= attempts) throw error;
        await new Promise((resolve) => setTimeout(resolve, retryMs));
      }
    }
  }

  private listen(): Promise<Server> {
    const server = createServer((socket) => this.accept(socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.address.port, this.address.host, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    this.clients.add(socket);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      for (let end = pending.indexOf(0x0a); end >= 0; end = pending.indexOf(0x0a)) {
        this.onLine(new Uint8Array(pending.subarray(0, end + 1)));
        pending = pending.subarray(end + 1);
      }
      if (pending.length > MAX_LINE) socket.destroy(new Error(`request line longer than ${MAX_LINE} bytes`));
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.clients.delete(socket));
  }

  /** Sends released guest output to every client. */
  broadcast(data: Uint8Array): void {
    for (const client of this.clients) {
      // One ack often releases several replies: each client gets them in one write.
      coalesceThisTurn(client);
      client.write(data);
    }
  }

  /** The port it listens on (the one asked for, or the one the OS chose for port 0). */
  get port(): number | undefined {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : undefined;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  close(): void {
    this.closed = true;
    this.server?.close();
    for (const client of this.clients) client.destroy();
  }
}
