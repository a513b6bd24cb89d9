// The backup's acknowledger (VM-FT §2.2: the backup acknowledges each log entry as it receives it).
// A worker thread owns the logging channel's socket. It acknowledges every in-order entry the moment
// it arrives and hands every frame to the main thread, which replays them. So an ack never waits for
// a replay batch or an epoch (page and device hashes) on the main thread: the Output Rule's delay
// is the network's, not the backup's replay.
//
// Why this loses no acknowledged output: the thread posts a frame to the main thread before it acks
// it, and it acks (and heartbeats) only while the fence is down. To go live, the main thread raises the fence, then
// drains the port synchronously (fence()); every entry the primary has seen acknowledged is then in
// the main thread's hands before it replays to the end.
import { EventEmitter } from 'node:events';
import { extname, join } from 'node:path';
import { MessageChannel, MessagePort, Worker, isMainThread, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { Channel, LogChannel } from './channel';
import { ConnectOptions, connectChannel } from './channelserver';
import type { FaultSettings } from './faultinjector';
import { isLogEntry, type Frame } from '../log';

/**
 * Shared words, 8 bytes each: the fence (an Int32 in word 0), then Float64s: the main thread's
 * instruction count, bytes sent and received, frames dropped by injected faults, whether a partition
 * is in effect on the channel (1: the thread has applied it), how many turnarounds were noted, and a
 * ring of the latest turnarounds.
 */
const FENCE = 0;
const AT = 1;
const BYTES_SENT = 2;
const BYTES_RECEIVED = 3;
const FRAMES_DROPPED = 4;
const PARTITIONED = 5;
const TURNAROUNDS_NOTED = 6;
const RING = 7;
const KEPT_TURNAROUNDS = 1000;
const SHARED_BYTES = (RING + KEPT_TURNAROUNDS) * 8;

type Command =
  | { type: 'connect'; options: ConnectOptions }
  | { type: 'send'; frame: Frame }
  | { type: 'faults'; settings: Partial<FaultSettings> }
  | { type: 'partition'; on: boolean }
  | { type: 'close'; reason: string }
  | { type: 'destroy' };

/** Reports about a connection carry its number: those about an earlier one are stale. */
type Report =
  | { type: 'connected'; connection: number }
  | { type: 'connect-failed'; message: string }
  | { type: 'frame'; connection: number; frame: Frame }
  | { type: 'closed'; connection: number; error?: { name: string; message: string } };

class SharedWords {
  readonly flags: Int32Array;
  readonly numbers: Float64Array;
  constructor(readonly buffer: SharedArrayBuffer) {
    this.flags = new Int32Array(buffer, 0, 2);
    this.numbers = new Float64Array(buffer);
  }

  /** Written by the thread: the value first, then the count, so a reader never sees an unwritten slot. */
  noteTurnaround(ms: number): void {
    const noted = this.numbers[TURNAROUNDS_NOTED];
    this.numbers[RING + (noted % KEPT_TURNAROUNDS)] = ms;
    this.numbers[TURNAROUNDS_NOTED] = noted + 1;
  }

  /** The latest turnarounds, oldest first (one slot short of the ring: the thread may be rewriting the oldest). */
  turnarounds(): number[] {
    const noted = this.numbers[TURNAROUNDS_NOTED];
    const count = Math.min(noted, KEPT_TURNAROUNDS - 1);
    return Array.from({ length: count }, (_, i) => this.numbers[RING + ((noted - count + i) % KEPT_TURNAROUNDS)]);
  }
}

// ---------------------------------------------------------------------------------------------
// The main thread's side

/** The logging channel as the backup's main thread sees it: its socket lives on the ack thread. */
class ThreadChannel extends EventEmitter<{ message: [frame: Frame]; close: [error?: Error] }> implements LogChannel {
  private closed = false;

  constructor(private readonly thread: AckThread, private readonly shared: SharedWords) {
    super();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Applied by the thread, so true only once the partition is in effect there (a partition command is async). */
  get partitioned(): boolean {
    return this.shared.numbers[PARTITIONED] === 1;
  }

  get stats(): { bytesSent: number; bytesReceived: number; framesDropped: number } {
    const numbers = this.shared.numbers;
    return {
      bytesSent: numbers[BYTES_SENT],
      bytesReceived: numbers[BYTES_RECEIVED],
      framesDropped: numbers[FRAMES_DROPPED],
    };
  }

  send(frame: Frame): boolean {
    if (this.closed) return false;
    this.thread.command({ type: 'send', frame });
    return true;
  }

  setFaults(settings: Partial<FaultSettings>): void {
    this.thread.command({ type: 'faults', settings });
  }

  partition(on: boolean): void {
    this.thread.command({ type: 'partition', on });
  }

  async close(reason = 'close'): Promise<void> {
    if (this.closed) return;
    this.thread.command({ type: 'close', reason });
    await new Promise((resolve) => this.once('close', resolve));
  }

  destroy(): void {
    if (this.closed) return;
    this.thread.command({ type: 'destroy' });
    this.ended();
  }

  /** Internal: the thread reported the end of the connection (or it was destroyed here). */
  ended(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.emit('close', error);
  }
}

/** Beside this module: dist/ackthread.js beside the bundle, src/ft/channel/ackthread.ts when run from source. */
function threadEntry(): string {
  return join(__dirname, `ackthread${extname(__filename)}`);
}

/**
 * From source (tests), the thread needs a TypeScript loader: tsx's require hook (its --import hook does not reach
 * workers).
 */
function threadExecArgv(): string[] | undefined {
  return extname(__filename) === '.ts' ? ['--require', 'tsx/cjs'] : undefined;
}

/** The backup's ack thread: one per backup, one connection to the primary at a time. */
export class AckThread {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly shared = new SharedWords(new SharedArrayBuffer(SHARED_BYTES));
  private channel: ThreadChannel | undefined;
  private connection = 0;
  private stopped = false;
  private pendingConnect: { resolve: (channel: ThreadChannel) => void; reject: (error: Error) => void } | undefined;

  /**
   * `heartbeatMs`: the thread heartbeats the primary that often (from the main thread each would cost a message to
   * the thread, and the acks come from here anyway). `failed`: the thread died (a bug, not a network fault): the
   * backup cannot ack any more.
   */
  constructor(heartbeatMs: number, private readonly failed: (error: Error) => void) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(threadEntry(), {
      execArgv: threadExecArgv(),
      workerData: { lockstepAckThread: { port: port2, shared: this.shared.buffer, heartbeatMs } },
      transferList: [port2],
    });
    this.worker.unref();
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`the ack thread exited with code ${code}`)));
    this.port.on('message', (report: Report) => this.dispatch(report));
    this.port.unref();
  }

  /** Connects to the primary (handshake included) on the thread. */
  connect(options: ConnectOptions): Promise<LogChannel> {
    if (this.stopped) return Promise.reject(new Error('the ack thread has stopped'));
    return new Promise((resolve, reject) => {
      this.pendingConnect = { resolve, reject };
      this.command({ type: 'connect', options });
    });
  }

  /** The latest outputs' turnarounds, arrival to ack sent (ms): the backup's share of the Output Rule delay. */
  get turnaroundsMs(): number[] {
    return this.shared.turnarounds();
  }

  /** The main thread's instruction count, which acks carry (the primary's flow control reads it). */
  set instructions(count: number) {
    this.shared.numbers[AT] = count;
  }

  /** Stops acking for good, then hands every frame already acked (or received) to the channel's listeners. */
  fence(): void {
    Atomics.store(this.shared.flags, FENCE, 1);
    for (let message = receiveMessageOnPort(this.port); message; message = receiveMessageOnPort(this.port)) {
      this.dispatch(message.message as Report);
    }
  }

  stop(): void {
    this.stopped = true;
    void this.worker.terminate();
  }

  private fail(error: Error): void {
    if (this.stopped) return;
    this.stopped = true;
    this.connectFailed(error.message);
    this.channel?.ended(error);
    this.failed(error);
  }

  /** Internal: a command to the thread. */
  command(command: Command): void {
    this.port.postMessage(command);
  }

  private dispatch(report: Report): void {
    switch (report.type) {
      case 'connected': return this.connected(report.connection);
      case 'connect-failed': return this.connectFailed(report.message);
      case 'frame': if (report.connection === this.connection) this.channel?.emit('message', report.frame); return;
      case 'closed':
        if (report.connection === this.connection) {
          const error = report.error && Object.assign(new Error(report.error.message), { name: report.error.name });
          this.channel?.ended(error);
        }
        return;
    }
  }

  private connected(connection: number): void {
    this.connection = connection;
    this.channel = new ThreadChannel(this, this.shared);
    this.pendingConnect?.resolve(this.channel);
    this.pendingConnect = undefined;
  }

  private connectFailed(message: string): void {
    this.pendingConnect?.reject(new Error(message));
    this.pendingConnect = undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The thread's side

/** Serves the main thread's commands; one connection to the primary at a time. */
class Acknowledger {
  private connection: AckedConnection | undefined;
  private connections = 0;

  constructor(
    private readonly port: MessagePort,
    private readonly shared: SharedWords,
    private readonly heartbeatMs: number,
  ) {
    port.on('message', (command: Command) => this.command(command));
  }

  private command(command: Command): void {
    const channel = this.connection?.channel;
    switch (command.type) {
      case 'connect': return void this.connect(command.options);
      case 'send': return this.connection?.send(command.frame);
      case 'faults': return channel?.setFaults(command.settings);
      case 'partition': return this.connection?.partition(command.on);
      case 'close': return void channel?.close(command.reason);
      case 'destroy': return channel?.destroy();
    }
  }

  private async connect(options: ConnectOptions): Promise<void> {
    this.connection?.channel.destroy();
    const id = ++this.connections;
    try {
      const channel = await connectChannel(options);
      this.connection = new AckedConnection(id, channel, this.port, this.shared, this.heartbeatMs);
      this.port.postMessage({ type: 'connected', connection: id } satisfies Report);
    } catch (error) {
      this.port.postMessage({ type: 'connect-failed', message: (error as Error).message } satisfies Report);
    }
  }
}

/**
 * One connection: acknowledges every entry that arrives in order as soon as this turn of the loop ends, and
 * heartbeats once the main thread has asked for the log.
 */
class AckedConnection {
  /** The next seq wanted; 0 until the main thread asked for the log (or while it waits for a checkpoint). */
  private expected = 0;
  private awaitingCheckpoint = false;
  private baseKnown = false;
  private ackScheduled = false;
  private outputsArrived: number[] = [];
  private heartbeats: NodeJS.Timeout | undefined;

  constructor(
    private readonly id: number,
    readonly channel: Channel,
    private readonly port: MessagePort,
    private readonly shared: SharedWords,
    private readonly heartbeatMs: number,
  ) {
    channel.on('message', (frame) => this.receive(frame));
    channel.on('close', (error) => {
      clearInterval(this.heartbeats);
      this.report({ type: 'closed', connection: id, error: error && { name: error.name, message: error.message } });
    });
    this.publishStats();
  }

  partition(on: boolean): void {
    this.channel.partition(on);
    this.publishStats();
  }

  /**
   * The first frame the backup sends asks for the log from `seq` (0: to be cloned): acks start there.
   * A later one asks again after a gap the main thread saw; this thread may be further on (what it
   * already has is on its way to the main thread, and acked, so the primary may have let it go): it
   * asks from its own next seq.
   */
  send(frame: Frame): void {
    if (frame.kind === 'resend-from' && !this.baseKnown) {
      this.baseKnown = true;
      this.awaitingCheckpoint = frame.seq === 0;
      this.expected = frame.seq;
      this.heartbeats = setInterval(() => this.heartbeat(), this.heartbeatMs);
    } else if (frame.kind === 'resend-from' && this.expected > frame.seq) {
      frame = { ...frame, seq: this.expected };
    }
    this.channel.send(frame);
    this.publishStats();
  }

  private receive(frame: Frame): void {
    this.report({ type: 'frame', connection: this.id, frame });
    if (frame.kind === 'checkpoint' && this.awaitingCheckpoint && frame.index === 0) {
      this.awaitingCheckpoint = false;
      this.expected = frame.seq + 1;
    } else if (isLogEntry(frame) && this.expected > 0 && frame.seq === this.expected) {
      this.expected++;
      if (frame.kind === 'output') this.outputsArrived.push(performance.now());
      this.scheduleAck();
    }
    this.publishStats();
  }

  private scheduleAck(): void {
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    process.nextTick(() => {
      this.ackScheduled = false;
      if (this.fenced) return;
      const now = performance.now();
      for (const arrived of this.outputsArrived) this.shared.noteTurnaround(now - arrived);
      this.outputsArrived = [];
      this.channel.send({ kind: 'ack', seq: this.expected - 1, at: this.shared.numbers[AT] });
      this.publishStats();
    });
  }

  /**
   * Says the backup is alive, however busy its main thread is (its acks say as much while entries flow). Not past
   * the fence, as no ack: a backup going live speaks for itself no more as the primary's backup (go-live stops the
   * thread right after; the fence is what the thread sees first).
   */
  private heartbeat(): void {
    if (this.fenced) return;
    this.channel.send({ kind: 'heartbeat', seq: Math.max(0, this.expected - 1), at: this.shared.numbers[AT], role: 'backup' });
    this.publishStats();
  }

  /** Raised by the main thread to go live: nothing more leaves on the backup's behalf. */
  private get fenced(): boolean {
    return Atomics.load(this.shared.flags, FENCE) !== 0;
  }

  private publishStats(): void {
    const { bytesSent, bytesReceived, framesDropped } = this.channel.stats;
    this.shared.numbers[BYTES_SENT] = bytesSent;
    this.shared.numbers[BYTES_RECEIVED] = bytesReceived;
    this.shared.numbers[FRAMES_DROPPED] = framesDropped;
    this.shared.numbers[PARTITIONED] = Number(this.channel.partitioned);
  }

  private report(report: Report): void {
    this.port.postMessage(report);
  }
}

if (!isMainThread && workerData?.lockstepAckThread) {
  type Data = { port: MessagePort; shared: SharedArrayBuffer; heartbeatMs: number };
  const { port, shared, heartbeatMs } = workerData.lockstepAckThread as Data;
  new Acknowledger(port, new SharedWords(shared), heartbeatMs);
}
