// The logging channel: a TCP connection between primary and backup that carries log entries one
// way and acks/heartbeats the other (VM-FT section 2). It frames, authenticates (handshake.ts),
// counts and injects faults (faultinjector.ts); sequencing and retransmission belong to the
// primary/backup layer (seq, ack, resend-from). docs/protocol.md describes the handshake and the knobs.

import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { encodeFrame, FrameDecoder, isLogEntry, MAX_PAYLOAD_BYTES, type Frame, type Role } from '../log';
import { coalesceThisTurn } from './coalesce';
import { corruptFrame, FaultInjector, type FaultSettings } from './faultinjector';
import { ChannelAuthError, DEFAULT_HANDSHAKE_TIMEOUT_MS, Handshake, HANDSHAKE_MAX_PAYLOAD, type ChannelSide, type HandshakeOptions } from './handshake';

/** After we hang up, a peer that never closes its side is cut off after this long. */
const HANG_UP_GRACE_MS = 5_000;

export interface ChannelOptions extends HandshakeOptions {
  /** Give up on a peer that has not completed the handshake by then. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Initial fault-injection settings for frames this side sends. */
  faults?: Partial<FaultSettings>;
}

export interface ChannelStats {
  /** Bytes written to / read from the socket, handshake included. */
  bytesSent: number;
  bytesReceived: number;
  /** Frames written to the socket (a duplicate counts twice) / valid frames decoded from it. */
  framesSent: number;
  framesReceived: number;
  /** Frames handed to the user ('message' event or iterator). */
  framesDelivered: number;
  /** Injected faults on this side's sends. */
  framesDropped: number;
  framesDuplicated: number;
  framesCorrupted: number;
  /** Frames not written / received frames discarded because of partition(true). */
  framesPartitionedOut: number;
  framesPartitionedIn: number;
}

/**
 * What the FT layer needs of a channel, wherever its socket lives: on this thread (Channel) or on
 * the backup's ack thread (ackthread.ts).
 */
export interface LogChannel {
  readonly isClosed: boolean;
  readonly stats: Readonly<Pick<ChannelStats, 'bytesSent' | 'bytesReceived' | 'framesDropped'>>;
  /** Whether partition(true) is in effect on this end (a backup's channel applies it on its ack thread, later). */
  readonly partitioned: boolean;
  send(frame: Frame): boolean;
  setFaults(settings: Partial<FaultSettings>): void;
  partition(on: boolean): void;
  close(reason?: string): Promise<void>;
  destroy(): void;
  on(event: 'message', listener: (frame: Frame) => void): this;
  on(event: 'close', listener: (error?: Error) => void): this;
}

type ChannelEvents = {
  /** A received, authenticated, well-formed frame (log entry or channel message). */
  message: [frame: Frame];
  /** Emitted only when someone listens; the error is also passed to 'close'. */
  error: [error: Error];
  /** The connection is gone; `error` says why if it was not an orderly close. */
  close: [error?: Error];
};

type ChannelState = 'handshake' | 'open' | 'closed';

interface QueuedFrame {
  bytes: Uint8Array;
  due: number;
}

/**
 * One authenticated logging-channel connection. Obtain it from connectChannel() or a
 * ChannelServer; frames received before anyone listens are kept until a 'message' listener or
 * messages() iterator is attached, so nothing is lost between the handshake and the first listener.
 */
export class Channel extends EventEmitter<ChannelEvents> implements LogChannel {
  readonly role: Role;
  private state: ChannelState = 'handshake';
  private failure: Error | undefined;
  private readonly decoder = new FrameDecoder({ maxPayload: HANDSHAKE_MAX_PAYLOAD });
  private readonly inbox: Frame[] = [];
  private readonly injector: FaultInjector;
  private isPartitioned = false;
  private readonly queue: QueuedFrame[] = [];
  private queueTimer: NodeJS.Timeout | undefined;
  private readonly counters: ChannelStats = {
    bytesSent: 0,
    bytesReceived: 0,
    framesSent: 0,
    framesReceived: 0,
    framesDelivered: 0,
    framesDropped: 0,
    framesDuplicated: 0,
    framesCorrupted: 0,
    framesPartitionedOut: 0,
    framesPartitionedIn: 0,
  };
  private readonly handshake: Handshake;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private readonly closed: Promise<void>;
  /** Settles when the handshake succeeds or fails. */
  readonly ready: Promise<void>;
  private settleReady!: (error?: Error) => void;

  /** Internal: use connectChannel() or listenChannel(). The socket must already be connected. */
  constructor(
    private readonly socket: Socket,
    readonly side: ChannelSide,
    private readonly options: ChannelOptions,
  ) {
    super();
    if (Buffer.byteLength(options.secret) === 0) throw new RangeError('channel secret must not be empty');
    this.role = options.role;
    this.injector = new FaultInjector(options.faults);
    this.handshake = new Handshake(side, options);
    this.ready = new Promise<void>((resolve, reject) => {
      this.settleReady = (error) => (error ? reject(error) : resolve());
    });
    this.ready.catch(() => undefined); // callers who never await it must not crash the process
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    // Frames that arrived before the first 'message' listener flow once it is attached.
    (this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (event === 'message') process.nextTick(() => this.drain());
    });
    this.wireSocket();
    this.startHandshake();
  }

  /** The peer's role, known once its hello has arrived. */
  get peerRole(): Role | undefined {
    return this.handshake.peerRole;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Why the channel closed, if not in an orderly way. */
  get closeError(): Error | undefined {
    return this.failure;
  }

  get remoteAddress(): string | undefined {
    return this.socket.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.socket.remotePort;
  }

  get stats(): Readonly<ChannelStats> {
    return { ...this.counters };
  }

  /** Bytes accepted by send() but not yet handed to the kernel: input for flow control. */
  get pendingBytes(): number {
    return this.socket.writableLength + this.queue.reduce((sum, q) => sum + q.bytes.length, 0);
  }

  get faults(): Readonly<FaultSettings> {
    return this.injector.current;
  }

  /** Changes the fault-injection settings for frames sent from now on. */
  setFaults(settings: Partial<FaultSettings>): void {
    this.injector.update(settings);
  }

  get partitioned(): boolean {
    return this.isPartitioned;
  }

  /** While on, nothing is written and nothing received is delivered; the socket stays open. */
  partition(on: boolean): void {
    this.isPartitioned = on;
  }

  /**
   * Sends a log entry or channel message (not hello: the handshake is the channel's own).
   * Returns false if the channel is not open. A frame the fault injector drops still returns true:
   * the sender cannot tell, as on a real lossy link.
   */
  send(frame: Frame): boolean {
    if (frame.kind === 'hello') throw new RangeError('hello messages belong to the handshake');
    if (this.state !== 'open') return false;
    const bytes = encodeFrame(frame);
    const fate = this.injector.decide(bytes.length, isLogEntry(frame) ? frame.seq : undefined);
    if (fate.drop) {
      this.counters.framesDropped++;
      return true;
    }
    const out = fate.corruptAt === undefined ? bytes : corruptFrame(bytes, fate.corruptAt, fate.corruptMask ?? 0xff);
    if (out !== bytes) this.counters.framesCorrupted++;
    this.enqueue(out);
    if (fate.duplicate) {
      this.counters.framesDuplicated++;
      this.enqueue(out);
    }
    return true;
  }

  /**
   * Hands the frames sent this turn to the OS now rather than when the turn ends (coalesce.ts): what follows in the
   * turn (a slice's end, an epoch's hashing) then runs while they travel. Frames a delay fault queues stay queued.
   */
  flush(): void {
    if (this.socket.writableCorked > 0) this.socket.uncork();
  }

  /**
   * Resolves once the frames written so far (not those a delay fault still queues) have left this
   * process, handed to the OS: a host about to be killed on purpose waits for it.
   */
  written(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) resolve();
      else this.socket.write(new Uint8Array(0), () => resolve());
    });
  }

  /** Orderly close: writes queued frames, says bye, ends the connection. */
  async close(reason = 'close'): Promise<void> {
    if (this.state === 'open') {
      this.flushQueue();
      this.writeFrame(encodeFrame({ kind: 'bye', at: 0, reason }));
      this.finish(undefined);
      this.hangUp();
    } else if (this.state === 'handshake') {
      this.abort(new ChannelAuthError('closed during handshake'));
    }
    await this.closed;
  }

  /** Abrupt close, as if the host died: nothing queued is written. */
  destroy(): void {
    this.finish(undefined);
    this.socket.destroy();
  }

  /** Received frames as an async iterator; ends at an orderly close, throws the error otherwise. */
  messages(): AsyncIterableIterator<Frame> {
    return new MessageIterator(this).start();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Frame> {
    return this.messages();
  }

  /** Internal: hands buffered frames to listeners (called by MessageIterator too). */
  drain(): void {
    while (this.inbox.length > 0 && this.listenerCount('message') > 0) {
      this.counters.framesDelivered++;
      this.emit('message', this.inbox.shift()!);
    }
  }

  // -- receiving ------------------------------------------------------------------------------

  private wireSocket(): void {
    this.socket.setNoDelay(true); // the Output Rule waits on acks: do not let Nagle hold them
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('end', () => this.onEnd());
    this.socket.on('error', (err) => this.abort(err));
    this.socket.on('close', () => this.finish(this.state === 'handshake' ? new ChannelAuthError('connection closed during handshake') : undefined));
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.counters.bytesReceived += chunk.length;
    try {
      this.decoder.push(chunk);
      for (let frame = this.decoder.next(); frame !== undefined; frame = this.decoder.next()) {
        this.counters.framesReceived++;
        this.onFrame(frame);
        if (this.isClosed) return; // onFrame may have ended the connection
      }
    } catch (err) {
      this.abort(err as Error);
    }
  }

  private onEnd(): void {
    if (this.state === 'closed') return;
    if (this.state === 'handshake') return this.abort(new ChannelAuthError('peer closed during handshake'));
    try {
      this.decoder.end(); // the peer stopped in the middle of a frame?
      this.finish(undefined);
    } catch (err) {
      this.abort(err as Error);
    }
  }

  private onFrame(frame: Frame): void {
    if (this.state === 'handshake') return this.onHandshakeFrame(frame);
    if (frame.kind === 'hello') throw new ChannelAuthError('hello after the handshake');
    if (this.isPartitioned) {
      this.counters.framesPartitionedIn++;
      return;
    }
    this.inbox.push(frame);
    this.drain();
  }

  // -- handshake ------------------------------------------------------------------------------

  private startHandshake(): void {
    const timeout = this.options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.handshakeTimer = setTimeout(() => this.abort(new ChannelAuthError('handshake timeout')), timeout);
    this.writeFrame(encodeFrame(this.handshake.challenge()));
  }

  private onHandshakeFrame(frame: Frame): void {
    const answer = this.handshake.receive(frame);
    if (answer === 'authenticated') this.establish();
    else this.writeFrame(encodeFrame(answer));
  }

  private establish(): void {
    clearTimeout(this.handshakeTimer);
    this.state = 'open';
    this.decoder.maxPayload = MAX_PAYLOAD_BYTES;
    this.settleReady();
  }

  // -- sending --------------------------------------------------------------------------------

  private enqueue(bytes: Uint8Array): void {
    const delay = this.injector.delayMs;
    if (delay <= 0 && this.queue.length === 0) return this.writeFrame(bytes);
    const last = this.queue.length > 0 ? this.queue[this.queue.length - 1].due : 0;
    this.queue.push({ bytes, due: Math.max(performance.now() + delay, last) });
    this.scheduleQueue();
  }

  private scheduleQueue(): void {
    if (this.queueTimer || this.queue.length === 0) return;
    const wait = Math.max(0, this.queue[0].due - performance.now());
    this.queueTimer = setTimeout(() => {
      this.queueTimer = undefined;
      const now = performance.now();
      while (this.queue.length > 0 && this.queue[0].due <= now) this.writeFrame(this.queue.shift()!.bytes);
      this.scheduleQueue();
    }, wait);
  }

  private flushQueue(): void {
    clearTimeout(this.queueTimer);
    this.queueTimer = undefined;
    for (const q of this.queue.splice(0)) this.writeFrame(q.bytes);
  }

  // Handshake frames go through here too: faults and partitions apply to the session, not to it.
  private writeFrame(bytes: Uint8Array): void {
    if (this.state === 'closed' || this.socket.destroyed) return;
    if (this.isPartitioned && this.state === 'open') {
      this.counters.framesPartitionedOut++;
      return;
    }
    // A batch's entries and its heartbeat, or a burst of acks, leave in one write.
    coalesceThisTurn(this.socket);
    this.socket.write(bytes);
    this.counters.bytesSent += bytes.length;
    this.counters.framesSent++;
  }

  // -- ending ---------------------------------------------------------------------------------

  /** Closes because of `error`: tells the peer why (best effort), then drops the connection. */
  private abort(error: Error): void {
    if (this.state === 'closed') return;
    if (this.isPartitioned || this.socket.destroyed) this.socket.destroy();
    else this.hangUp(encodeFrame({ kind: 'bye', at: 0, reason: error.message }));
    this.finish(error);
  }

  /** Ends our side (after `lastWords`), and cuts the connection if the peer does not follow. */
  private hangUp(lastWords?: Uint8Array): void {
    const grace = setTimeout(() => this.socket.destroy(), HANG_UP_GRACE_MS);
    grace.unref();
    this.socket.once('close', () => clearTimeout(grace));
    if (!lastWords) return void this.socket.end();
    this.counters.bytesSent += lastWords.length;
    this.counters.framesSent++;
    this.socket.end(lastWords);
  }

  private finish(error: Error | undefined): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.failure = error;
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.queueTimer);
    this.queue.length = 0;
    this.settleReady(error ?? new ChannelAuthError('closed during handshake'));
    if (error && this.listenerCount('error') > 0) this.emit('error', error);
    this.emit('close', error);
  }
}

/** Pull-style view of a channel's 'message' and 'close' events. */
class MessageIterator implements AsyncIterableIterator<Frame> {
  private readonly buffered: Frame[] = [];
  private waiter: { resolve: (r: IteratorResult<Frame>) => void; reject: (e: Error) => void } | undefined;
  private finished = false;
  private failure: Error | undefined;
  private readonly onMessage = (frame: Frame) => {
    this.buffered.push(frame);
    this.settle();
  };
  private readonly onClose = (error?: Error) => {
    this.finished = true;
    this.failure = error;
    this.detach();
    this.settle();
  };

  constructor(private readonly channel: Channel) {}

  start(): this {
    this.channel.on('message', this.onMessage);
    this.channel.drain(); // take what arrived before we listened, in order
    if (this.channel.isClosed) this.onClose(this.channel.closeError);
    else this.channel.once('close', this.onClose);
    return this;
  }

  next(): Promise<IteratorResult<Frame>> {
    if (this.waiter) return Promise.reject(new Error('next() called again before the previous one settled'));
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.settle();
    });
  }

  async return(): Promise<IteratorResult<Frame>> {
    this.detach();
    this.finished = true;
    this.buffered.length = 0;
    this.failure = undefined;
    this.settle();
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private detach(): void {
    this.channel.off('message', this.onMessage);
    this.channel.off('close', this.onClose);
  }

  private settle(): void {
    const waiter = this.waiter;
    if (!waiter) return;
    if (this.buffered.length > 0) {
      this.waiter = undefined;
      waiter.resolve({ value: this.buffered.shift()!, done: false });
    } else if (this.finished) {
      this.waiter = undefined;
      const failure = this.failure;
      this.failure = undefined;
      if (failure) waiter.reject(failure);
      else waiter.resolve({ value: undefined, done: true });
    }
  }
}
