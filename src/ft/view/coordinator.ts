// Where the view service runs (`--coordinator`): inside the cluster process (embedded.ts), which the
// cluster relays the hosts' pings to, or on an etcd cluster (etcd.ts), which each host reaches itself.
// Both answer a host's ping with the view it should act on and tell of each new view; the rules are
// the same (viewservice.ts).
import type { EventEmitter } from 'node:events';
import type { Ping, Stuck, View, ViewServiceOptions } from './viewservice';

export type CoordinatorEvents = {
  view: [view: View];
  /** Something the coordinator cannot do (its store unreachable), or does again: one line each. */
  problem: [line: string];
};

export interface Coordinator extends EventEmitter<CoordinatorEvents> {
  readonly options: ViewServiceOptions;
  /** The cluster relays the hosts' pings to it and its answers back (embedded); etcd's hosts reach it themselves. */
  readonly relayed: boolean;
  /** The view hosts act on. */
  readonly view: View;
  /** Whether the view's primary has acknowledged it (until then the view cannot change). */
  readonly acked: boolean;
  /** Live servers in no role of the view. */
  readonly idle: string[];
  /** Whether a backup of the view could take over now. */
  readonly canPromote: boolean;
  readonly stuck: Stuck | undefined;
  /** Ready to answer pings (an etcd coordinator has reached etcd). */
  open(): Promise<void>;
  /** A host's ping: the view it should act on, or undefined when the coordinator cannot answer. */
  ping(ping: Ping): View | undefined;
  close(): void;
}

/** A coordinator that cannot start (its etcd unreachable): one line saying why, not a bug. */
export class CoordinatorError extends Error {
  override name = 'CoordinatorError';
}

/** `--coordinator`: embedded, or etcd://HOST:PORT[,HOST:PORT…] */
export type CoordinatorSpec = { kind: 'embedded' } | { kind: 'etcd'; endpoints: string[] };

/** Parses `--coordinator`; throws a one-line Error naming what is wrong. */
export function parseCoordinator(text: string): CoordinatorSpec {
  if (text === 'embedded') return { kind: 'embedded' };
  const match = /^etcd:\/\/(.+)$/.exec(text);
  if (!match) throw new Error(`--coordinator: expected embedded or etcd://HOST:PORT[,HOST:PORT...], got '${text}'`);
  const endpoints = match[1].split(',');
  for (const endpoint of endpoints) {
    const port = /^[^:/\s]+:(\d+)$/.exec(endpoint)?.[1];
    if (port === undefined || Number(port) < 1 || Number(port) > 65535) {
      throw new Error(`--coordinator: '${endpoint}' in '${text}' is not HOST:PORT`);
    }
  }
  return { kind: 'etcd', endpoints };
}
