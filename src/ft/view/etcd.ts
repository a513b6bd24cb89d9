// The etcd coordinator (`--coordinator etcd://HOST:PORT[,…]`): the view service's state lives in an
// etcd cluster, and nothing of it lives in any one process, so it survives the loss of any machine.
// Under the prefix lockstep/SESSION/:
// - `servers/ID`: each host's last ping, put by the host itself on a lease of its own (TTL: the
//   dead-pings interval, whole seconds, at least etcd's minimum of 2). A ping is a put and a keep-alive
//   of that lease; a server is dead when etcd expires its lease (the deletion is watched), not by any
//   process's clock. A primary's ping carries its logging channel's address, where a spare that a view
//   makes backup finds it.
// - `view-number` and `view`: changed only together, by a transaction that compares `view-number`
//   with the number the decider last knew (absent for the first view). A view is made only once that
//   transaction succeeds: while etcd cannot be reached, hosts keep acting on the last stored view.
// - `decider`: the host that applies the rules and stores the views, elected among the hosts: the
//   key is created by a transaction (only if absent) on the host's own ping lease, so the role ends
//   exactly when the host is declared dead. Every host that pings tries to take it while it is absent;
//   the next one continues from the state in etcd (the transaction on the view number keeps two
//   deciders, one of them about to lose its lease, from both making a view). etcd3's Election would
//   do the same with a lease of its own, but its campaigns did not recover from an etcd restart here
//   (etcd.test.ts: no decider after the member came back).
// Every instance — each host's and the cluster process's, which only observes — follows the same
// state through one watch of the prefix and runs the same rules (viewservice.ts); only the elected one
// proposes. The etcd client is loaded when an etcd coordinator opens (the bundles leave it out: it
// reads its .proto files from its own package).
import { EventEmitter } from 'node:events';
import type { Etcd3, IKeyValue, Lease, Watcher } from 'etcd3';
import { CoordinatorError, type Coordinator, type CoordinatorEvents } from './coordinator';
import { ViewService, type Ping, type View, type ViewServiceOptions } from './viewservice';
import type { ViewMessage } from './viewaction';
import { StuckReport } from './stuckreport';

/** etcd refuses leases shorter than about 1.5 s (its election timeout's share): 2 s is the least asked for. */
const MIN_TTL_S = 2;
/** How long an etcd call may take before it counts as failed. */
const CALL_TIMEOUT_MS = 1500;
/** How long a coordinator waits for etcd's first answer (the client itself would retry for ever). */
const OPEN_TIMEOUT_MS = 5000;

/** gRPC's message without its empty trailer. */
const said = (error: Error): string => error.message.replace(/\s*Resolution note:\s*$/, '');

function answerWithin<T>(call: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([call, late]).finally(() => clearTimeout(timer));
}

/** Where an etcd coordinator keeps a session's state, and who it is. */
export interface EtcdPlace {
  endpoints: string[];
  /** The cluster's session: keys live under lockstep/SESSION/. */
  session: string;
  /** A host's id: it pings, and is a candidate for the decider. None: the cluster process, which observes. */
  candidate?: string;
}

export class EtcdCoordinator extends EventEmitter<CoordinatorEvents> implements Coordinator {
  private client!: Etcd3;
  private readonly service: ViewService;
  private readonly ttlS: number;
  private watcher: Watcher | undefined;
  /** Who holds the decider key, as the watch last said. */
  private deciderId: string | undefined;
  /** This host's lease, and its pings waiting to be put one after the other (never overtaken by an earlier one). */
  private lease: Lease | undefined;
  private unsent: Ping[] = [];
  private sending = false;
  /** Each server's last ping as stored (a primary's carries its channel address). */
  private readonly pings = new Map<string, Ping>();
  /** Checks every ping interval whether the service is stuck (a line, as the embedded coordinator's). */
  private stuckTimer: NodeJS.Timeout | undefined;
  private proposing = false;
  /** The problem being reported (one line per outage, and one when it is over). */
  private failing: string | undefined;
  private closed = false;

  constructor(readonly options: ViewServiceOptions, private readonly place: EtcdPlace) {
    super();
    this.ttlS = Math.max(MIN_TTL_S, Math.ceil((options.deadPings * options.pingIntervalMs) / 1000));
    this.service = new ViewService(options);
    this.service.propose = () => undefined; // until elected
  }

  /** Hosts ping etcd themselves: the cluster relays nothing. */
  readonly relayed = false;

  get endpoints(): string[] {
    return this.place.endpoints;
  }

  get view(): View {
    return this.service.view;
  }

  get acked(): boolean {
    return this.service.acked;
  }

  get idle(): string[] {
    return this.service.idle;
  }

  get canPromote(): boolean {
    return this.service.canPromote;
  }

  get stuck(): ViewService['stuck'] {
    return this.service.stuck;
  }

  /** The host elected decider, as this instance last heard (undefined: none). */
  get decider(): string | undefined {
    return this.deciderId;
  }

  private get deciding(): boolean {
    return this.place.candidate !== undefined && this.deciderId === this.place.candidate;
  }

  /** Reaches etcd (one line when it cannot), loads the session's state and follows it (hosts stand for decider). */
  async open(): Promise<void> {
    const where = `--coordinator etcd://${this.endpoints.join(',')}`;
    const etcd3 = await import('etcd3').catch((error: Error) => {
      throw new CoordinatorError(`${where}: the etcd client (npm etcd3) cannot be loaded: ${error.message}`, { cause: error });
    });
    this.client = new etcd3.Etcd3({
      hosts: this.endpoints.map((endpoint) => `http://${endpoint}`),
      dialTimeout: CALL_TIMEOUT_MS,
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
    });
    try {
      await answerWithin(this.follow(), OPEN_TIMEOUT_MS);
    } catch (error) {
      this.client.close();
      throw new CoordinatorError(`${where}: cannot reach etcd (${said(error as Error)})`, { cause: error });
    }
    const report = new StuckReport(this.options);
    this.stuckTimer = setInterval(() => {
      const line = report.check(this.service.stuck, this.service.view, performance.now());
      if (line) this.emit('problem', line);
      if (!this.place.candidate) this.probe();
    }, this.options.pingIntervalMs);
  }

  /**
   * This host's ping: stored on its lease and the lease kept alive. Answers with the view as this instance follows it
   * (undefined from the cluster process, which relays no ping).
   */
  ping(ping: Ping): View | undefined {
    if (this.closed || !this.place.candidate) return undefined;
    // While etcd is slow or away only the newest ping waits, but a ping saying the host left is never replaced.
    this.unsent = [...this.unsent.filter((waiting) => waiting.left), ping];
    if (!this.sending) void this.sendPings();
    return this.service.view;
  }

  /** What a host acts on: the view, and where its primary takes backups once that primary has said so. */
  get message(): ViewMessage {
    const { view } = this;
    const primary = view.primary === undefined ? undefined : this.pings.get(view.primary)?.channel;
    return primary ? { view, primary } : { view };
  }

  close(): void {
    this.closed = true;
    clearInterval(this.stuckTimer);
    this.service.propose = () => undefined;
    void this.watcher?.cancel().catch(() => undefined);
    // Leases are let go, not revoked: a server's key and a decider's claim outlive this process by one TTL at most.
    this.lease?.release();
    this.client?.close();
  }

  private key(name: string): string {
    return `lockstep/${this.place.session}/${name}`;
  }

  /**
   * Loads the stored view and pings (the servers in the order they first pinged: with no view yet, the first is
   * primary), then watches every change after them.
   */
  private async follow(): Promise<void> {
    const prefix = this.key('');
    const state = await this.client.getAll().prefix(prefix).exec();
    const kvs = [...state.kvs].sort((a, b) => Number(a.create_revision) - Number(b.create_revision));
    const view = kvs.find((kv) => kv.key.toString() === this.key('view'));
    if (view) this.changed(view);
    for (const kv of kvs) if (kv !== view) this.changed(kv);
    const next = String(Number(state.header.revision) + 1);
    this.watcher = await this.client.watch().prefix(prefix).startRevision(next).create();
    this.watcher.on('put', (kv) => this.changed(kv));
    this.watcher.on('delete', (kv) => this.removed(kv));
    this.watcher.on('error', (error) => this.problem(`etcd watch failed: ${said(error)}`));
  }

  private changed(kv: IKeyValue): void {
    const key = kv.key.toString();
    if (key === this.key('view')) return this.adopt(JSON.parse(kv.value.toString()) as View);
    if (key === this.key('decider')) return this.elected(kv.value.toString());
    const server = this.serverOf(key);
    if (server === undefined) return;
    const ping = JSON.parse(kv.value.toString()) as Ping;
    this.pings.set(server, ping);
    this.service.ping(ping, performance.now());
  }

  private removed(kv: IKeyValue): void {
    if (kv.key.toString() === this.key('decider')) return this.elected(undefined);
    const server = this.serverOf(kv.key.toString());
    if (server === undefined) return;
    this.pings.delete(server);
    this.service.expire(server);
  }

  private serverOf(key: string): string | undefined {
    const prefix = this.key('servers/');
    return key.startsWith(prefix) ? key.slice(prefix.length) : undefined;
  }

  /** Makes a stored view the current one, once (the decider learns its own views twice: its commit, the watch). */
  private adopt(view: View): void {
    if (view.number <= this.service.view.number) return;
    this.service.adopt(view);
    this.emit('view', view);
  }

  /** Only the decider proposes the views the rules make; the others follow what it stores. */
  private elected(decider: string | undefined): void {
    this.deciderId = decider;
    this.service.propose = this.deciding ? (view) => void this.storeView(view) : () => undefined;
  }

  /** A host that pings stands for the decider: it takes the key, on its ping lease, if no one holds it. */
  private async stand(lease: Lease): Promise<void> {
    if (this.deciderId !== undefined) return;
    const key = this.key('decider');
    const claim = this.client.put(key).value(this.place.candidate!).lease(await lease.grant());
    await answerWithin(this.client.if(key, 'Create', '==', 0).then(claim).commit(), CALL_TIMEOUT_MS);
  }

  private async sendPings(): Promise<void> {
    this.sending = true;
    for (let ping = this.unsent.shift(); ping; ping = this.unsent.shift()) await this.store(ping);
    this.sending = false;
  }

  /**
   * A ping is a put of this server's key on its lease, and a keep-alive (a first ping, or one after the lease was
   * lost, takes a new lease).
   */
  private async store(ping: Ping): Promise<void> {
    if (this.closed) return;
    if (!this.lease || this.lease.revoked()) {
      const lease = this.client.lease(this.ttlS, { autoKeepAlive: false });
      lease.on('lost', () => { if (this.lease === lease) this.lease = undefined; });
      this.lease = lease;
    }
    const lease = this.lease;
    try {
      // keepaliveOnce rides a stream, which has no deadline: a stalled one would hold back every later ping.
      await answerWithin(Promise.resolve(lease.put(this.key(`servers/${ping.server}`)).value(JSON.stringify(ping))), CALL_TIMEOUT_MS);
      await answerWithin(lease.keepaliveOnce(), CALL_TIMEOUT_MS);
      await this.stand(lease);
      this.recovered();
    } catch (error) {
      if (this.lease === lease) this.lease = undefined;
      this.problem(`etcd keep-alive failed: ${said(error as Error)}`);
    }
  }

  /** The cluster process calls etcd only here: whether it answers is what it reports. */
  private probe(): void {
    this.client.get(this.key('view-number')).string().then(() => this.recovered(), (error: Error) => this.problem(`etcd read failed: ${said(error)}`));
  }

  /**
   * Stores a view the rules made, by a transaction on the view number; makes it only if that succeeds.
   * One at a time: the rules propose again at a later ping if this one fails.
   */
  private async storeView(view: View): Promise<void> {
    if (this.proposing || this.closed) return;
    this.proposing = true;
    try {
      const previous = String(this.service.view.number);
      const txn = view.number === 1
        ? this.client.if(this.key('view-number'), 'Create', '==', 0)
        : this.client.if(this.key('view-number'), 'Value', '==', previous);
      const result = await txn
        .then(this.client.put(this.key('view-number')).value(String(view.number)), this.client.put(this.key('view')).value(JSON.stringify(view)))
        .commit();
      if (this.closed) return;
      if (!result.succeeded) return await this.adoptStored();
      this.recovered();
      this.adopt(view);
    } catch (error) {
      this.problem(`etcd did not store view ${view.number}: ${said(error as Error)}; hosts keep view ${this.service.view.number}`);
    } finally {
      this.proposing = false;
    }
  }

  /** Another decider moved the view number (an earlier one, still alive for a moment): its view is the one. */
  private async adoptStored(): Promise<void> {
    const stored = await this.client.get(this.key('view')).string();
    if (stored) this.adopt(JSON.parse(stored) as View);
  }

  private problem(line: string): void {
    if (this.closed || this.failing !== undefined) return;
    this.failing = line.trim();
    this.emit('problem', this.failing);
  }

  private recovered(): void {
    if (this.failing === undefined || this.closed) return;
    this.failing = undefined;
    this.emit('problem', `etcd reachable again; the view is ${this.service.view.number}`);
  }
}
