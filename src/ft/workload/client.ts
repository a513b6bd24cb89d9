// `lockstep client kv`: a key/value workload against "the service" (the kv guest behind the live
// primary), in the style of the 6.824 primary/backup clerk. Each logical client sends one request at
// a time, as a line to the guest's serial port or a datagram to its network card, and, when no reply
// comes (a failover, a dropped connection), sends the very same request again, reconnecting first if
// it was connected (same client id and seq: the guest answers a duplicate without applying it).
// Replies that arrive twice at cut-over are dropped by seq. The history it keeps is what checker.ts
// verifies.
import { createSocket, Socket as UdpSocket } from 'node:dgram';
import { Socket, connect, isIPv6 } from 'node:net';
import { arpFrame, formatIp, parseFrame, udpFrame } from './ethernet';
import { SeededRandom } from '../random';
import type { ServiceAddress } from '../replication';
import { LineReader } from './lines';

export type KvOpKind = 'PUT' | 'APPEND' | 'GET';

export interface KvOp {
  client: number;
  seq: number;
  op: KvOpKind;
  key: string;
  value?: string;
  /** Logical times (one counter over all clients) of the invocation and of the reply. */
  invoked: number;
  completed?: number;
  reply?: string;
  /** Wall-clock ms from the first send to the reply. */
  latencyMs?: number;
  attempts: number;
}

export interface KvWorkloadOptions {
  service: ServiceAddress;
  ops: number;
  seed: number;
  clients?: number;
  /**
   * The first client id (default 1): the clients are firstClient, firstClient + 1, ... The kv guest
   * remembers every client it served (at-most-once), so a second workload against the same guest
   * needs ids the first did not use; its shared keys are named after this id too, so the two
   * histories do not mix.
   */
  firstClient?: number;
  /** Serial lines over TCP (the default) or UDP datagrams over the guest's network card. */
  transport?: KvTransport;
  /** Resend a request that got no reply after this long. */
  retryMs?: number;
  /** Give up on the whole workload after this long. */
  deadlineMs?: number;
  /** Called after every completed operation (for a demo's progress, or to inject a fault mid-run). */
  onProgress?: (completed: number) => void;
  /** After `ops` operations, keep issuing more while this holds (e.g. until a fault has struck mid-run). */
  continueWhile?: () => boolean;
}

/** An operation as a client sends it; the client adds its id and seq. */
export type KvRequest = Omit<KvOp, 'client' | 'seq' | 'invoked' | 'attempts'>;

/**
 * reconnects: connections lost and made again (serial); resends: requests sent again for want of a
 * reply, and address lookups (ARP) asked again (net).
 */
export interface KvHistory {
  ops: KvOp[];
  duplicateReplies: number;
  reconnects: number;
  resends: number;
  wallMs: number;
  complete: boolean;
}

const PRIVATE_KEYS = 3;
const SHARED_KEYS = 2;
/** The kv guest's limits (guests/kv/kv.c): bytes in a value, keys in the store. */
const GUEST_VALUE_MAX = 1024;
const GUEST_KEYS_MAX = 512;
/** Clients the guest remembers in all (guests/common/dedup.h). */
const GUEST_CLIENTS_MAX = 128;
/** The kv guest's network address (guests/README.md), and the one its clients send from. */
const KV_GUEST_IP = Uint8Array.of(10, 0, 2, 15);
const KV_CLIENT_IP = Uint8Array.of(10, 0, 2, 2);
const KV_PORT = 7070;
/** A service never reached at all is reported this soon, not at the workload's deadline. */
const FIRST_CONTACT_MS = 10_000;
/** Client ids are u32 in the guest; 0 is its own (errors about unparsable lines). */
const GUEST_CLIENT_MAX = 0xffff_ffff;

/** Replies that mean this workload cannot go on against this guest: what went wrong, and what to do. */
const FATAL_REPLIES: Record<string, (client: number) => string> = {
  'ERR stale': (client) => `the guest has already served a client ${client} further than this workload (an earlier workload against the same guest?): choose unused client ids with --first-client`,
  'ERR toomanyclients': () => `the guest serves at most ${GUEST_CLIENTS_MAX} clients in all and has no room for more (earlier workloads against the same guest?): start the guest again`,
  'ERR full': () => `the guest's store is full (${GUEST_KEYS_MAX} keys, earlier workloads against the same guest included): start the guest again or use fewer --ops`,
};

export class WorkloadError extends Error {
  override name = 'WorkloadError';
}

class LogicalClock {
  private now = 0;
  tick(): number {
    return ++this.now;
  }
}

/** How a client reaches the kv guest: TCP to its serial port, or UDP datagrams to its network card. */
export type KvTransport = 'serial' | 'net';

/** Where a link hands each reply line, and tells that the request in flight was lost with the connection. */
interface LinkEvents {
  line: (line: string) => void;
  lost: () => void;
}

/** A client's way to the guest; `send` waits until the request is on its way. */
interface Link {
  send(line: string): Promise<void>;
  close(): void;
  readonly reconnects: number;
  /** Times it asked again for the guest's address. */
  readonly lookupsRepeated: number;
}

/**
 * When a link gives up: at the workload's deadline once it has reached the guest (a failover may
 * take a while), but after FIRST_CONTACT_MS while it never has (a wrong address, nothing running).
 */
class FirstContact {
  private reached = false;
  private readonly firstBy: number;

  constructor(private readonly deadline: number) {
    this.firstBy = Math.min(deadline, performance.now() + FIRST_CONTACT_MS);
  }

  made(): void {
    this.reached = true;
  }

  /** Why it is too late to try again (for the error), or undefined while it is not. */
  late(): string | undefined {
    const now = performance.now();
    if (this.reached) return now > this.deadline ? 'before the deadline' : undefined;
    return now > this.firstBy ? `within ${this.firstBy === this.deadline ? 'the deadline' : `${FIRST_CONTACT_MS / 1000} s`}` : undefined;
  }
}

/** The serial port, through the service's TCP side: a connection per client, reconnected after a failover. */
class SerialLink implements Link {
  private socket: Socket | undefined;
  private readonly contact: FirstContact;
  private lastError = '';
  reconnects = 0;
  readonly lookupsRepeated = 0;

  constructor(
    private readonly id: number,
    private readonly service: ServiceAddress,
    deadline: number,
    private readonly events: LinkEvents,
  ) {
    this.contact = new FirstContact(deadline);
  }

  async send(line: string): Promise<void> {
    while (!this.socket || this.socket.destroyed) {
      // A service that never comes back must not keep the client reconnecting past its deadline.
      const late = this.contact.late();
      if (late) throw new WorkloadError(`client ${this.id}: cannot reach the service at ${this.service.host}:${this.service.port}${this.lastError && ` (${this.lastError})`} ${late}`);
      await this.connect();
    }
    this.socket.write(line);
  }

  private connect(): Promise<void> {
    return new Promise((resolve) => {
      const socket = connect(this.service);
      socket.setNoDelay(true);
      let settled = false;
      socket.once('connect', () => {
        settled = true;
        this.socket = socket;
        this.contact.made();
        resolve();
      });
      // A line is read from one connection: a reply cut off with a lost connection (a primary killed between
      // the slices that wrote it) never goes on in the next, whose first line is another reply.
      const lines = new LineReader((line) => this.events.line(line));
      socket.on('data', (chunk) => lines.push(chunk.toString('latin1')));
      socket.on('error', (error: NodeJS.ErrnoException) => {
        this.lastError = error.code ?? error.message;
        socket.destroy();
      });
      socket.on('close', () => {
        if (this.socket === socket) {
          this.socket = undefined;
          this.reconnects++;
          this.events.lost();
        }
        if (!settled) setTimeout(resolve, 20);
      });
    });
  }

  close(): void {
    this.socket?.destroy();
  }
}

/**
 * The network card, through the service's UDP side: each client is a station of its own (its own MAC
 * and UDP port, IP 10.0.2.2) that finds the guest's MAC by ARP, then sends each request line in one
 * UDP datagram to 10.0.2.15:7070. Nothing is connected, so nothing is reconnected: a request lost at
 * a failover is simply sent again when no reply comes.
 */
class NetLink implements Link {
  private socket: UdpSocket | undefined;
  private guestMac: Uint8Array | undefined;
  private readonly contact: FirstContact;
  /** Ends the wait for an ARP reply early, when one comes. */
  private arpAnswered: () => void = () => undefined;
  private readonly mac: Uint8Array;
  readonly reconnects = 0;
  lookupsRepeated = 0;

  constructor(
    private readonly id: number,
    private readonly service: ServiceAddress,
    private readonly retryMs: number,
    deadline: number,
    private readonly events: LinkEvents,
  ) {
    this.mac = Uint8Array.of(0x02, 0x4d, id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff);
    this.contact = new FirstContact(deadline);
  }

  async send(line: string): Promise<void> {
    const socket = this.socket ?? (this.socket = await this.open());
    const guestMac = this.guestMac ?? (await this.resolveGuest(socket));
    const frame = udpFrame({
      srcMac: this.mac, dstMac: guestMac, srcIp: KV_CLIENT_IP, dstIp: KV_GUEST_IP,
      srcPort: socket.address().port, dstPort: KV_PORT, payload: Buffer.from(line, 'latin1'),
    });
    socket.send(frame, this.service.port, this.service.host);
  }

  private open(): Promise<UdpSocket> {
    const socket = createSocket(isIPv6(this.service.host) ? 'udp6' : 'udp4');
    socket.on('message', (datagram) => this.receive(new Uint8Array(datagram)));
    socket.on('error', () => undefined); // the service's port closed for a moment (a failover): the retry covers it
    return new Promise((resolve) => socket.bind(0, () => resolve(socket)));
  }

  /** ARP for the guest's MAC, asking again every retryMs (the guest may still be booting, or failing over). */
  private async resolveGuest(socket: UdpSocket): Promise<Uint8Array> {
    const request = arpFrame({ op: 'request', senderMac: this.mac, senderIp: KV_CLIENT_IP, targetMac: new Uint8Array(6), targetIp: KV_GUEST_IP });
    for (let asked = false; !this.guestMac; asked = true) {
      const late = this.contact.late();
      if (late) throw new WorkloadError(`client ${this.id}: no ARP reply from ${formatIp(KV_GUEST_IP)} through the service at ${this.service.host}:${this.service.port} ${late}`);
      if (asked) this.lookupsRepeated++;
      socket.send(request, this.service.port, this.service.host);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.retryMs);
        this.arpAnswered = () => { clearTimeout(timer); resolve(); };
      });
    }
    return this.guestMac;
  }

  private receive(frame: Uint8Array): void {
    const parsed = parseFrame(frame);
    if (!parsed || Buffer.compare(parsed.dstMac, this.mac) !== 0) return;
    const { arp, udp } = parsed;
    if (arp?.op === 'reply' && Buffer.compare(arp.senderIp, KV_GUEST_IP) === 0) {
      this.guestMac = new Uint8Array(arp.senderMac);
      this.contact.made();
      this.arpAnswered();
    }
    if (udp?.checksumOk && udp.srcPort === KV_PORT && udp.dstPort === this.socket?.address().port) {
      for (const line of Buffer.from(udp.payload).toString('latin1').split('\n').slice(0, -1)) this.events.line(line);
    }
  }

  close(): void {
    this.socket?.close();
  }
}

/** One logical client: its own link to the guest, one outstanding request at a time. */
class KvClient {
  private readonly link: Link;
  private waiting: { op: KvOp; resolve: () => void } | undefined;
  private seq = 0;
  duplicateReplies = 0;

  constructor(
    readonly id: number,
    private readonly options: Required<Pick<KvWorkloadOptions, 'service' | 'retryMs' | 'transport'>>,
    private readonly clock: LogicalClock,
    private readonly deadline: number,
  ) {
    const events: LinkEvents = { line: (line) => this.onLine(line), lost: () => this.waiting?.resolve() };
    this.link = options.transport === 'net'
      ? new NetLink(id, options.service, options.retryMs, deadline, events)
      : new SerialLink(id, options.service, deadline, events);
  }

  get reconnects(): number {
    return this.link.reconnects;
  }

  get lookupsRepeated(): number {
    return this.link.lookupsRepeated;
  }

  async perform(op: KvRequest): Promise<KvOp> {
    const full: KvOp = { ...op, client: this.id, seq: ++this.seq, invoked: this.clock.tick(), attempts: 0 };
    const line = [full.client, full.seq, full.op, full.key, full.value].filter((x) => x !== undefined).join(' ') + '\n';
    const sentAt = performance.now();
    while (full.completed === undefined) {
      if (performance.now() > this.deadline) throw new WorkloadError(`client ${this.id}: no reply to seq ${full.seq} before the deadline`);
      full.attempts++;
      await this.link.send(line);
      await this.awaitReply(full);
    }
    full.latencyMs = performance.now() - sentAt;
    const fatal = FATAL_REPLIES[full.reply ?? ''];
    if (fatal) throw new WorkloadError(`client ${this.id}: ${full.op} ${full.key} got "${full.reply}": ${fatal(this.id)}`);
    return full;
  }

  private awaitReply(op: KvOp): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.waiting?.op === op) this.waiting = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.options.retryMs);
      this.waiting = { op, resolve: done };
    });
  }

  private onLine(line: string): void {
    const [client, seq, ...rest] = line.split(' ');
    if (Number(client) !== this.id) return;
    const waiting = this.waiting;
    if (!waiting || Number(seq) !== waiting.op.seq) {
      this.duplicateReplies++;
      return;
    }
    waiting.op.reply = rest.join(' ');
    waiting.op.completed = this.clock.tick();
    waiting.resolve();
  }

  close(): void {
    this.link.close();
  }
}

/**
 * The keys a workload uses, kept within the guest's limits however long it runs: an APPEND that would
 * overflow a private key is sent as a PUT, and a shared key that could overflow is retired for a fresh
 * one (shared keys only ever get APPENDs: the checker relies on that). Lengths are counted as the
 * operations are issued: exact for a private key (one client, one request at a time), an upper bound
 * for a shared one (appends commute in length).
 */
export class KeySpace {
  private readonly lengths = new Map<string, number>();
  private readonly shared: string[];
  private sharedCreated = SHARED_KEYS;

  /** `sharedPrefix` names the shared keys (prefix + 0, 1, ...): a workload's own, apart from another's. */
  constructor(private readonly clients: number, private readonly sharedPrefix: string) {
    this.shared = Array.from({ length: SHARED_KEYS }, (_, i) => this.sharedName(i));
    if (this.keysUsed > GUEST_KEYS_MAX) throw new WorkloadError(`--clients ${clients} needs ${this.keysUsed} keys; the kv guest holds ${GUEST_KEYS_MAX}`);
  }

  private get keysUsed(): number {
    return this.clients * PRIVATE_KEYS + this.sharedCreated;
  }

  /** An operation; written values carry a token unique in the run, so the checker can trace each write. */
  next(random: SeededRandom, client: number, index: number): KvRequest {
    const roll = random.next();
    const token = `c${client}n${index}`;
    const privateKey = () => `k${client}.${Math.floor(random.next() * PRIVATE_KEYS)}`;
    if (roll < 0.3) return this.write('PUT', privateKey(), `=${token}`);
    if (roll < 0.45) {
      const key = privateKey();
      return this.fits(key, token.length + 1) ? this.write('APPEND', key, `+${token}`) : this.write('PUT', key, `=${token}`);
    }
    if (roll < 0.6) return this.write('APPEND', this.sharedKey(Math.floor(random.next() * SHARED_KEYS), token.length + 1), `|${token}`);
    const shared = random.next() < 0.4;
    return { op: 'GET', key: shared ? this.shared[Math.floor(random.next() * SHARED_KEYS)] : privateKey() };
  }

  /** Every key a client may have touched, and every shared key: read at the end so the checker sees the final state. */
  finalReads(client: number): string[] {
    const shared = Array.from({ length: this.sharedCreated }, (_, i) => this.sharedName(i));
    return [...Array.from({ length: PRIVATE_KEYS }, (_, i) => `k${client}.${i}`), ...shared];
  }

  private fits(key: string, bytes: number): boolean {
    return (this.lengths.get(key) ?? 0) + bytes <= GUEST_VALUE_MAX;
  }

  private sharedName(n: number): string {
    return `${this.sharedPrefix}${n}`;
  }

  private sharedKey(slot: number, bytes: number): string {
    if (this.fits(this.shared[slot], bytes)) return this.shared[slot];
    if (this.keysUsed >= GUEST_KEYS_MAX) {
      throw new WorkloadError(`the workload needs more than the kv guest's ${GUEST_KEYS_MAX} keys: use fewer --ops`);
    }
    this.shared[slot] = this.sharedName(this.sharedCreated++);
    return this.shared[slot];
  }

  private write(op: 'PUT' | 'APPEND', key: string, value: string): KvRequest {
    this.lengths.set(key, (op === 'PUT' ? 0 : this.lengths.get(key) ?? 0) + value.length);
    return { op, key, value };
  }
}

export async function runKvWorkload(options: KvWorkloadOptions): Promise<KvHistory> {
  const clientCount = options.clients ?? 4;
  const firstClient = options.firstClient ?? 1;
  if (!Number.isInteger(options.ops) || options.ops < 1) throw new WorkloadError(`--ops must be at least 1, got ${options.ops}`);
  if (!Number.isInteger(firstClient) || firstClient < 1 || firstClient + clientCount - 1 > GUEST_CLIENT_MAX) {
    throw new WorkloadError(`--first-client must be a whole number from 1 to ${GUEST_CLIENT_MAX - clientCount + 1} with ${clientCount} clients, got ${firstClient}`);
  }
  const started = performance.now();
  const deadline = started + (options.deadlineMs ?? 120_000);
  const clock = new LogicalClock();
  const random = new SeededRandom(options.seed);
  const settings = { service: options.service, retryMs: options.retryMs ?? 1500, transport: options.transport ?? 'serial' };
  const keys = new KeySpace(clientCount, `s${firstClient}.`);
  const clients = Array.from(
    { length: clientCount },
    (_, i) => new KvClient(firstClient + i, settings, clock, deadline),
  );
  const ops: KvOp[] = [];
  let issued = 0;
  const runClient = async (client: KvClient) => {
    while (issued < options.ops || options.continueWhile?.()) {
      const index = issued++;
      ops.push(await client.perform(keys.next(random, client.id, index)));
      options.onProgress?.(ops.length);
    }
  };
  // After every client is done: a shared key retired late is read too.
  const readFinalState = async (client: KvClient) => {
    for (const key of keys.finalReads(client.id)) ops.push(await client.perform({ op: 'GET', key }));
  };
  try {
    await Promise.all(clients.map(runClient));
    await Promise.all(clients.map(readFinalState));
    return { ops, ...counters(clients, ops), wallMs: performance.now() - started, complete: true };
  } finally {
    clients.forEach((c) => c.close());
  }
}

function counters(clients: KvClient[], ops: KvOp[]) {
  return {
    duplicateReplies: clients.reduce((n, c) => n + c.duplicateReplies, 0),
    reconnects: clients.reduce((n, c) => n + c.reconnects, 0),
    resends: ops.reduce((n, op) => n + op.attempts - 1, 0) + clients.reduce((n, c) => n + c.lookupsRepeated, 0),
  };
}
