// The view service of the primary/backup lab (seed 003): it alone decides who is primary and who is
// backup. Servers ping it; it keeps a sequence of views (number, primary, backups) and changes the
// view only by these rules:
// - a server is dead after `deadPings` ping intervals without a ping, live again after one ping;
// - a primary that pings with view 0 has restarted and lost its state: it is dead at once; so is a server
//   that says it has left (halted in its role), whose ping also acknowledges the view it carries;
// - the view changes only after the current primary has acknowledged it (pinged with its number),
//   so a primary never misses a view and no two views are decided while one is unseen;
// - only a backup of the current view may become primary (it alone has the state), and only one that
//   has said it is initialised (its clone is complete) in a ping that knew it was a backup (an
//   "initialised" left over from an older role says nothing about this one); of several, the most advanced;
// - a live idle server becomes a backup when the view has fewer than it wants.
// A pure state machine, as etcd's raft is: time comes in with each call, nothing is done here but
// deciding, so every rule is tested on its own (test/ft/view/viewservice.test.ts).
import type { PrimaryAddress } from './viewaction';

export interface View {
  number: number;
  primary: string | undefined;
  backups: readonly string[];
}

export interface Ping {
  server: string;
  /** The newest view number the server has seen (0: it has none, or it restarted). */
  viewNumber: number;
  /** A backup whose state transfer (clone) is complete. */
  initialised: boolean;
  /** How far the server's log goes (its last seq received or logged): picks the most advanced backup. */
  position: number;
  /**
   * The server has stopped in its role for good (halted: it failed to go live, lost the arbiter, diverged): it is
   * dead at once, and acknowledges `viewNumber`, which it will never act on. Its later pings carry view 0.
   */
  left?: boolean;
  /** A primary's logging channel, where a spare made its backup is cloned from (etcd: hosts find it there). */
  channel?: PrimaryAddress;
}

export interface ViewServiceOptions {
  pingIntervalMs: number;
  /** Missed ping intervals in a row after which a server is dead. */
  deadPings: number;
  /** How many backups a view should have (VM-FT: one; the log can fan out to more). */
  backups: number;
}

export const DEFAULT_VIEW_SERVICE: ViewServiceOptions = { pingIntervalMs: 100, deadPings: 5, backups: 1 };

interface ServerState { lastPingMs: number; initialised: boolean; position: number; dead: boolean; seenView: number }

/** What a restarted view service keeps (viewstore.ts): the view and whether its primary acknowledged it. */
export interface DurableView { view: View; acked: boolean }

/** Why the view cannot change although a rule asks for it: the service is stuck until it can. */
export type Stuck = 'primary has not acknowledged the view' | 'no initialised backup to promote';

export const NO_VIEW: View = { number: 0, primary: undefined, backups: [] };

export class ViewService {
  private current: View = NO_VIEW;
  private acknowledged = false;
  private readonly servers = new Map<string, ServerState>();
  /** The view number in which each current backup became one. */
  private readonly backupSince = new Map<string, number>();
  /** Set when a rule wants a new view that cannot be made yet; cleared by the next view. */
  stuck: Stuck | undefined;
  /**
   * Set by a coordinator that must store a view before it is made (etcd): each new view is proposed
   * to it instead, and made when it calls `adopt`; the rules propose it again at the next ping meanwhile.
   */
  propose: ((view: View) => void) | undefined;

  constructor(readonly options: ViewServiceOptions = DEFAULT_VIEW_SERVICE) {}

  /**
   * A view service restarted from what it kept: liveness is soft state, so every server of the view
   * counts as just heard from (it has `deadPings` intervals to ping again) and as not initialised
   * until it says so again.
   */
  static restore(options: ViewServiceOptions, durable: DurableView, nowMs: number): ViewService {
    const service = new ViewService(options);
    service.current = durable.view;
    service.acknowledged = durable.acked;
    for (const server of [durable.view.primary, ...durable.view.backups]) {
      if (server === undefined) continue;
      service.servers.set(server, { lastPingMs: nowMs, initialised: false, position: 0, dead: false, seenView: 0 });
    }
    for (const backup of durable.view.backups) service.backupSince.set(backup, durable.view.number);
    return service;
  }

  get view(): View {
    return this.current;
  }

  /** Whether the current view's primary has acknowledged it. */
  get acked(): boolean {
    return this.acknowledged;
  }

  /** What must survive a restart of the service. */
  get durable(): DurableView {
    return { view: this.current, acked: this.acknowledged };
  }

  /** Servers that ping and are in no role of the current view. */
  get idle(): string[] {
    return [...this.servers.keys()].filter((server) => this.isLive(server) && !this.inView(server));
  }

  /**
   * Whether a backup of the view could take over now: live, and initialised in its role, in a view its
   * primary has acknowledged (a primary that dies before it acknowledges blocks every change for good).
   */
  get canPromote(): boolean {
    const ready = (server: string) => this.isLive(server) && this.isInitialised(server);
    return this.acknowledged && this.current.backups.some(ready);
  }

  /** A server's ping at `nowMs`; answers with the view it should act on. */
  ping(ping: Ping, nowMs: number): View {
    const known = this.servers.get(ping.server);
    const restarted = ping.viewNumber === 0 && known !== undefined && this.inView(ping.server);
    this.servers.set(ping.server, {
      lastPingMs: nowMs, initialised: ping.initialised, position: ping.position, dead: restarted || ping.left === true,
      seenView: ping.viewNumber,
    });
    if (this.current.number === 0) {
      this.change({ number: 1, primary: ping.server, backups: [] });
    } else if (ping.server === this.current.primary && ping.viewNumber === this.current.number) {
      this.acknowledged = true;
    }
    this.decide();
    return this.current;
  }

  /**
   * The service itself heard nothing for `ms` (its process stalled: a loaded machine): the servers'
   * silence in that time is its own, not theirs, so it is not counted towards their death. Without
   * this, the pings queued during the stall arrive after the first tick, which finds them all silent.
   */
  stalled(ms: number): void {
    for (const state of this.servers.values()) state.lastPingMs += ms;
  }

  /** A server is dead because a coordinator says so (its etcd lease expired), not by this service's clock. */
  expire(server: string): View {
    const state = this.servers.get(server);
    if (state) state.dead = true;
    this.decide();
    return this.current;
  }

  /** The passing of time: servers that stopped pinging die, and the view follows. */
  tick(nowMs: number): View {
    const deadAfter = this.options.deadPings * this.options.pingIntervalMs;
    for (const state of this.servers.values()) {
      if (nowMs - state.lastPingMs >= deadAfter) state.dead = true;
    }
    this.decide();
    return this.current;
  }

  private decide(): void {
    const next = this.wanted();
    if (next === undefined) {
      this.stuck = undefined;
      return;
    }
    if (!this.acknowledged) {
      this.stuck = 'primary has not acknowledged the view';
      return;
    }
    if (next.primary === undefined) {
      this.stuck = 'no initialised backup to promote';
      return;
    }
    this.stuck = undefined;
    this.change(next);
  }

  /** The view the rules ask for, if it differs from the current one. */
  private wanted(): View | undefined {
    const { primary, backups } = this.current;
    if (primary === undefined) return undefined;
    let nextPrimary: string | undefined = primary;
    let nextBackups = backups.filter((server) => this.isLive(server));
    if (!this.isLive(primary)) {
      nextPrimary = this.mostAdvanced(nextBackups.filter((server) => this.isInitialised(server)));
      nextBackups = nextBackups.filter((server) => server !== nextPrimary);
    }
    for (const server of this.idle) {
      if (nextBackups.length >= this.options.backups) break;
      if (server !== nextPrimary) nextBackups = [...nextBackups, server];
    }
    const same = nextPrimary === primary && nextBackups.length === backups.length &&
      nextBackups.every((server, i) => server === backups[i]);
    return same ? undefined : { number: this.current.number + 1, primary: nextPrimary, backups: nextBackups };
  }

  private mostAdvanced(candidates: string[]): string | undefined {
    let best: string | undefined;
    for (const server of candidates) {
      if (best === undefined || this.servers.get(server)!.position > this.servers.get(best)!.position) best = server;
    }
    return best;
  }

  private change(view: View): void {
    if (this.propose) this.propose(view);
    else this.adopt(view);
  }

  /** Makes `view` the current one (proposed and stored, or stored by another coordinator). */
  adopt(view: View): void {
    for (const backup of view.backups) if (!this.backupSince.has(backup)) this.backupSince.set(backup, view.number);
    for (const server of this.backupSince.keys()) if (!view.backups.includes(server)) this.backupSince.delete(server);
    this.current = view;
    this.acknowledged = false;
  }

  /** Said initialised in a ping sent once it knew the view that made it a backup. */
  private isInitialised(server: string): boolean {
    const state = this.servers.get(server)!;
    return state.initialised && state.seenView >= (this.backupSince.get(server) ?? Infinity);
  }

  private isLive(server: string): boolean {
    const state = this.servers.get(server);
    return state !== undefined && !state.dead;
  }

  private inView(server: string): boolean {
    return server === this.current.primary || this.current.backups.includes(server);
  }
}
