// What the adapter debugs: one machine per thread. A host's machine lives in its host process and is
// reached through the cluster's link to it (src/ft/cluster/hostprotocol.ts `debug` commands, answered by debugger.ts);
// a log replay or a single machine lives in this process (a MachineDebugger of its own).
import type { Cluster } from '../ft/cluster';
import type { DebugOp, DebugResult, DebugState, HostReport } from '../ft/cluster';
import type { MachineDebugger } from '../ft/debug';

export interface Target {
  /** A host id (`host-2`), or the local machine's name. */
  readonly id: string;
  readonly threadId: number;
  role: string;
  generation: number;
  /** Undefined only from a host that has no machine yet (a backup being cloned) for pause/resume. */
  request(op: DebugOp): Promise<DebugResult | undefined>;
}

/** A thread with no state to show yet, and why: shown as such, not as a failed request. */
export class NothingToShowYet extends Error {
  override name = 'NothingToShowYet';
}

/** The result of an operation that answers with the machine's state. */
export async function stateOf(target: Target, op: DebugOp = { op: 'state' }): Promise<DebugState> {
  const result = await target.request(op);
  if (!result) throw new NothingToShowYet(`${target.id} has no machine yet (it is being cloned from the primary)`);
  if (result.kind === 'waiting') throw new NothingToShowYet(result.reason);
  if (result.kind !== 'state') throw new Error(`${target.id} answered ${op.op} with ${result.kind}`);
  return result.state;
}

/** Debug commands to a cluster's hosts, matched with their replies. */
export class HostRequests {
  private next = 1;
  private readonly pending = new Map<number, {
    host: string;
    resolve: (r: DebugResult | undefined) => void;
    reject: (e: Error) => void;
  }>();

  constructor(private readonly cluster: Cluster) {
    cluster.on('report', (report) => this.settle(report));
    cluster.on('host-exit', (host) => this.failHost(host, `${host} exited`));
  }

  send(host: string, op: DebugOp): Promise<DebugResult | undefined> {
    const link = this.cluster.hosts.get(host)?.link;
    if (!link?.alive) return Promise.reject(new Error(`${host} is not running`));
    const request = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(request, { host, resolve, reject });
      link.send({ type: 'debug', request, op });
    });
  }

  private settle(report: HostReport): void {
    if (report.type !== 'debug-reply') return;
    const waiting = this.pending.get(report.request);
    if (!waiting) return;
    this.pending.delete(report.request);
    if (report.error !== undefined) waiting.reject(new Error(report.error));
    else waiting.resolve(report.result);
  }

  failHost(host: string, why: string): void {
    for (const [request, waiting] of this.pending) {
      if (waiting.host !== host) continue;
      this.pending.delete(request);
      waiting.reject(new Error(why));
    }
  }
}

export class HostTarget implements Target {
  constructor(
    readonly id: string,
    readonly threadId: number,
    public role: string,
    public generation: number,
    private readonly requests: HostRequests,
  ) {}

  request(op: DebugOp): Promise<DebugResult | undefined> {
    return this.requests.send(this.id, op);
  }
}

export class LocalTarget implements Target {
  generation = 1;

  constructor(readonly id: string, readonly threadId: number, public role: string, readonly machine: MachineDebugger) {}

  request(op: DebugOp): Promise<DebugResult | undefined> {
    return this.machine.execute(op);
  }
}
