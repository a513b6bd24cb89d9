// The view service's views as a debug session reports them (`lockstep/views`): every view with why it
// differs from the one before, whether its primary has acknowledged it, and the idle spares. The cluster
// tells of each view as it is decided; acknowledgements and spares are read from its coordinator.
import type { RoleChange } from '../ft/cluster';
import type { View } from '../ft/view';
import type { ViewCause, ViewRecord } from './protocol';

/** What the coordinator says now: its view, whether acknowledged, its idle servers. */
export interface CoordinatorState { view: View; acked: boolean; idle: readonly string[] }

export class ViewHistory {
  readonly views: ViewRecord[] = [];
  spares: string[] = [];
  /** Hosts that were idle once (started as spares, or stepped down): a view that names one backup promotes a spare. */
  private readonly wereIdle = new Set<string>();

  noteRole(change: RoleChange): void {
    if (change.role === 'spare' || change.role === 'halted') this.wereIdle.add(change.host);
  }

  /**
   * A view decided at `time`: the records that changed, the previous one first if it now counts as
   * acknowledged (the view service changes the view only once its primary has acknowledged it).
   */
  decided(view: View, time: number): ViewRecord[] {
    const previous = this.views.at(-1);
    const changed: ViewRecord[] = [];
    if (previous && !previous.acked) {
      previous.acked = true;
      changed.push(previous);
    }
    const record: ViewRecord = {
      number: view.number,
      ...(view.primary !== undefined && { primary: view.primary }),
      backups: [...view.backups],
      acked: false,
      time,
      causes: this.causes(previous, view),
    };
    this.views.push(record);
    return [...changed, record];
  }

  /** The coordinator's state now: the latest record if it was just acknowledged or the spares changed, else none. */
  observe(state: CoordinatorState): ViewRecord | undefined {
    const latest = this.views.at(-1);
    if (!latest) return undefined;
    const spares = [...state.idle].sort(byHostNumber);
    const sparesChanged = spares.join() !== this.spares.join();
    this.spares = spares;
    const acked = state.acked && state.view.number === latest.number && !latest.acked;
    if (acked) latest.acked = true;
    return acked || sparesChanged ? latest : undefined;
  }

  private causes(previous: ViewRecord | undefined, next: View): ViewCause[] {
    if (previous?.primary === undefined) return next.primary === undefined ? [] : [{ kind: 'first', host: next.primary }];
    const causes: ViewCause[] = [];
    if (next.primary !== undefined && next.primary !== previous.primary) {
      causes.push({ kind: 'failover', from: previous.primary, host: next.primary });
    }
    for (const host of previous.backups) {
      if (host !== next.primary && !next.backups.includes(host)) causes.push({ kind: 'backup-lost', host });
    }
    for (const host of next.backups) {
      if (!previous.backups.includes(host)) causes.push({ kind: 'backup', host, spare: this.wereIdle.has(host) });
    }
    return causes;
  }
}

/** host-2 before host-10. */
function byHostNumber(a: string, b: string): number {
  return Number(a.replace(/\D+/g, '')) - Number(b.replace(/\D+/g, '')) || a.localeCompare(b);
}

/** A view's causes in a phrase, as the panel and the debug console say them. */
export function describeCauses(causes: readonly ViewCause[]): string {
  if (!causes.length) return 'no change of roles';
  return causes.map((cause) => {
    switch (cause.kind) {
      case 'first': return `${cause.host} pinged first: primary`;
      case 'failover': return `failover: ${cause.from} gone, backup ${cause.host} promoted`;
      case 'backup': return cause.spare ? `spare ${cause.host} made backup` : `${cause.host} made backup`;
      case 'backup-lost': return `backup ${cause.host} gone`;
    }
  }).join('; ');
}
