// When each fault of `--fault KIND@WHEN` (faults.ts) happens in a cluster run: some are armed before the
// backup starts, some at once, the rest at an instruction count or after a time.
import type { Role } from '../log';
import type { Fault } from './faults';
import type { HostCommand } from './hostprotocol';

type ChannelFault = Extract<HostCommand, { type: 'channel-fault' }>['kind'];

/** What a schedule does to the cluster. */
export interface FaultActions {
  command(role: Role, command: HostCommand): void;
  kill(role: Role): unknown;
  channelFault(kind: ChannelFault, value?: number): void;
  after(ms: number, action: () => void): void;
}

/**
 * A drop-entry names an entry by its place in the log: armed before the backup is started, it is
 * armed before any entry is sent (the primary sends none until its backup attaches), however small
 * the seq. The backup never sends log entries: only the primary is armed.
 */
export function armEntryDrops(faults: readonly Fault[], cluster: FaultActions): void {
  for (const fault of faults) {
    if (fault.kind === 'drop-entry') cluster.command('primary', { type: 'channel-fault', kind: 'drop-entry', value: fault.seq });
  }
}

export function scheduleFaults(faults: readonly Fault[], cluster: FaultActions): void {
  for (const fault of faults) {
    switch (fault.kind) {
      case 'kill-primary':
      case 'kill-backup': {
        const role = fault.kind === 'kill-primary' ? 'primary' : 'backup';
        if ('instructions' in fault.when) cluster.command(role, { type: 'kill-at', at: fault.when.instructions });
        else cluster.after(fault.when.ms, () => cluster.kill(role));
        break;
      }
      case 'partition':
      case 'heal':
        cluster.after(fault.when.ms, () => cluster.channelFault(fault.kind as 'partition' | 'heal'));
        break;
      case 'drop':
      case 'duplicate':
      case 'corrupt':
        cluster.channelFault(fault.kind, fault.rate);
        break;
      case 'delay':
        cluster.channelFault('delay', fault.ms);
        break;
      case 'drop-entry':
        break; // armed at start (armEntryDrops)
      case 'slow-backup':
        cluster.command('backup', { type: 'slow', msPerBatch: fault.ms });
        break;
      default:
        fault satisfies never; // a new kind in FAULT_KINDS is scheduled here
    }
  }
}
