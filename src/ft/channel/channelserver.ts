// Listening and connecting: the two ways a logging channel is made. The listening side turns every
// connection that passes the handshake into a Channel; the connecting side makes one.

import { EventEmitter } from 'node:events';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { LogFormatError } from '../log';
import { Channel, type ChannelOptions } from './channel';
import { ChannelAuthError } from './handshake';

export interface ListenOptions extends ChannelOptions {
  host?: string;
  /** 0 (the default) picks a free port; read it from ChannelServer.port. */
  port?: number;
}

export interface ConnectOptions extends ChannelOptions {
  host?: string;
  port: number;
}

/** A connection that failed the handshake at the listening side. */
export interface Rejection {
  reason: string;
  error: Error;
  remoteAddress?: string;
  remotePort?: number;
}

type ServerEvents = {
  /** A peer completed the handshake. */
  channel: [channel: Channel];
  /** A peer was turned away before any of its frames was accepted. */
  rejected: [rejection: Rejection];
  error: [error: Error];
};

/** The listening side: every authenticated connection becomes a Channel. */
export class ChannelServer extends EventEmitter<ServerEvents> {
  private readonly backlog: Channel[] = [];
  private readonly handshaking = new Set<Channel>();
  private readonly acceptors: Array<(channel: Channel) => void> = [];

  /** Internal: use listenChannel(). */
  constructor(
    private readonly server: Server,
    private readonly options: ChannelOptions,
  ) {
    super();
    server.on('connection', (socket) => this.onConnection(socket));
    server.on('error', (err) => this.listenerCount('error') > 0 && this.emit('error', err));
  }

  get host(): string {
    return this.addressInfo().address;
  }

  get port(): number {
    return this.addressInfo().port;
  }

  /** The next authenticated channel (one not taken by a 'channel' listener). */
  accept(): Promise<Channel> {
    const ready = this.backlog.shift();
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => this.acceptors.push(resolve));
  }

  /**
   * Stops listening and drops connections still in their handshake. Established channels stay
   * open (the FT layer owns them), so this does not wait for them.
   */
  async close(): Promise<void> {
    this.server.close();
    for (const channel of this.handshaking) channel.destroy();
  }

  private addressInfo(): { address: string; port: number } {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('channel server is not listening on TCP');
    return address;
  }

  private onConnection(socket: Socket): void {
    const { remoteAddress, remotePort } = socket;
    let channel: Channel;
    try {
      channel = new Channel(socket, 'listen', this.options);
    } catch (err) {
      socket.destroy();
      this.emit('rejected', { reason: (err as Error).message, error: err as Error, remoteAddress, remotePort });
      return;
    }
    this.handshaking.add(channel);
    channel.ready.finally(() => this.handshaking.delete(channel)).catch(() => undefined);
    channel.ready.then(
      () => this.hand(channel),
      (error: Error) => {
        const reason =
          error instanceof ChannelAuthError || error instanceof LogFormatError ? error.reason : error.message;
        this.emit('rejected', { reason, error, remoteAddress, remotePort });
      },
    );
  }

  private hand(channel: Channel): void {
    const acceptor = this.acceptors.shift();
    if (acceptor) acceptor(channel);
    else if (this.listenerCount('channel') === 0) this.backlog.push(channel);
    this.emit('channel', channel);
  }
}

/** Listens on host:port (default 127.0.0.1, a free port). */
export function listenChannel(options: ListenOptions): Promise<ChannelServer> {
  const server = createServer();
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve(new ChannelServer(server, options));
    });
  });
}

/** Connects and completes the handshake; rejects with ChannelAuthError if the peer is not authentic. */
export function connectChannel(options: ConnectOptions): Promise<Channel> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: options.host ?? '127.0.0.1', port: options.port });
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      let channel: Channel;
      try {
        channel = new Channel(socket, 'connect', options);
      } catch (err) {
        socket.destroy();
        return reject(err);
      }
      channel.ready.then(() => resolve(channel), reject);
    });
  });
}
