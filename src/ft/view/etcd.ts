// The etcd coordinator (`--coordinator etcd://HOST:PORT[,…]`): the view service's state lives in an
// etcd cluster, so it outlives any one machine. Under the prefix lockstep/SESSION/:
// - `view-number` and `view`: changed only together, by a transaction that compares `view-number`
//   with the number this coordinator last stored (absent for the first view). A view is made only once
//   that transaction succeeds: while etcd cannot be reached, hosts keep acting on the last stored
//   view, and nothing (no promotion, no new backup) happens that etcd has not recorded.
// - `servers/ID`: each server's last ping, on a lease of its own (TTL: the dead-pings interval,
//   whole seconds, at least etcd's minimum of 2). A ping is a keep-alive of that lease; a server is
//   dead when etcd expires its lease (the deletion is watched), not by this process's clock.
// The rules are the same pure state machine as the embedded coordinator's (viewservice.ts). The etcd
// client is loaded when an etcd coordinator opens (the bundles leave it out: it reads its .proto files
// from its own package).
import { EventEmitter } from 'node:events';
import type { Etcd3, Lease, Watcher } from 'etcd3';
import { CoordinatorError, type Coordinator, type CoordinatorEvents } from './coordinator';
import { ViewService, type Ping, type View, type ViewServiceOptions } from './viewservice';
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

export class EtcdCoordinator extends EventEmitter<CoordinatorEvents> implements Coordinator {
  private client!: Etcd3;
  private readonly service: ViewService;
  private readonly leases = new Map<string, Lease>();
  private readonly ttlS: number;
  private watcher: Watcher | undefined;
  /** Checks every ping interval whether the service is stuck (a line, as the embedded coordinator's). */
  private stuckTimer: NodeJS.Timeout | undefined;
  private proposing = false;
  /** The problem being reported (one line per outage, and one when it is over). */
  private failing: string | undefined;
  private closed = false;

  constructor(readonly options: ViewServiceOptions, readonly endpoints: string[], private readonly prefix: string) {
    super();
    this.ttlS = Math.max(MIN_TTL_S, Math.ceil((options.deadPings * options.pingIntervalMs) / 1000));
    this.service = new ViewService(options);
    this.service.propose = (view) => void this.store(view);
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

  /** Reaches etcd, says so in one line when it cannot, and watches the servers' leases. */
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
      await answerWithin(this.client.get(this.key('view')).string(), OPEN_TIMEOUT_MS);
      this.watcher = await this.client.watch().prefix(this.key('servers/')).create();
    } catch (error) {
      this.client.close();
      throw new CoordinatorError(`${where}: cannot reach etcd (${said(error as Error)})`, { cause: error });
    }
    this.watcher.on('delete', (kv) => this.service.expire(kv.key.toString().slice(this.key('servers/').length)));
    this.watcher.on('error', (error) => this.problem(`etcd watch failed: ${said(error)}`));
    const report = new StuckReport(this.options);
    this.stuckTimer = setInterval(() => {
      const line = report.check(this.service.stuck, this.service.view, performance.now());
      if (line) this.emit('problem', line);
    }, this.options.pingIntervalMs);
  }

  ping(ping: Ping): View | undefined {
    if (this.closed) return undefined;
    this.keepAlive(ping);
    return this.service.ping(ping, performance.now());
  }

  close(): void {
    this.closed = true;
    clearInterval(this.stuckTimer);
    this.service.propose = () => undefined;
    void this.watcher?.cancel().catch(() => undefined);
    // Leases are let go, not revoked: a server's key outlives this process by one TTL at most.
    for (const lease of this.leases.values()) lease.release();
    this.client?.close();
  }

  private key(name: string): string {
    return `lockstep/${this.prefix}/${name}`;
  }

  /** A ping keeps the server's lease alive (a first ping, or one after the lease was lost, takes a new lease). */
  private keepAlive(ping: Ping): void {
    let lease = this.leases.get(ping.server);
    if (lease && !lease.revoked()) {
      lease.keepaliveOnce().then(() => this.recovered(), (error: Error) => this.problem(`etcd keep-alive failed: ${said(error)}`));
      return;
    }
    lease = this.client.lease(this.ttlS, { autoKeepAlive: false });
    const granted = lease;
    this.leases.set(ping.server, granted);
    granted.on('lost', () => { if (this.leases.get(ping.server) === granted) this.leases.delete(ping.server); });
    granted.put(this.key(`servers/${ping.server}`)).value(JSON.stringify(ping))
      .then(() => this.recovered(), (error: Error) => {
        if (this.leases.get(ping.server) === granted) this.leases.delete(ping.server);
        this.problem(`etcd lease for ${ping.server} failed: ${said(error)}`);
      });
  }

  /**
   * Stores a view the rules made, by a transaction on the view number; makes it only if that succeeds.
   * One at a time: the rules propose again at a later ping if this one fails.
   */
  private async store(view: View): Promise<void> {
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
      this.service.adopt(view);
      this.emit('view', view);
    } catch (error) {
      this.problem(`etcd did not store view ${view.number}: ${said(error as Error)}; hosts keep view ${this.service.view.number}`);
    } finally {
      this.proposing = false;
    }
  }

  /** Another writer moved the view number: its view is the one. */
  private async adoptStored(): Promise<void> {
    const stored = await this.client.get(this.key('view')).string();
    if (!stored) return;
    const view = JSON.parse(stored) as View;
    this.problem(`the view in etcd is ${view.number}, stored by another coordinator: adopting it`);
    this.service.adopt(view);
    this.emit('view', view);
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
