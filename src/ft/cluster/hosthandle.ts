// The cluster's handle on one host process, and waiting for what it reports: a report of a type, or
// its exit, whichever comes first, so that no wait on a host outlives it.
import type { HostReport } from './hostprotocol';
import type { HostLink } from './hostlink';
import type { HostRecord, RoleChange } from './clustersummary';

export interface HostHandle extends HostRecord {
  link: HostLink;
  role: RoleChange['role'];
  generation: number;
  channelPort?: number;
  stderr: string[];
  exited: Promise<void>;
  /** Reports someone awaits (nextReport): an error then reaches the caller, not stderr. */
  awaited: number;
}

/** A host could not start, for a reason its message gives (bad input, a busy port): not a bug. */
export class HostError extends Error {
  override name = 'HostError';
}

/** A host that exited while something waited for it, with the last lines it wrote. */
function exitedBefore(handle: HostHandle, what: string, code: number | null, signal: string | null): Error {
  const why = handle.stderr.slice(-5).join(' | ') || signal || `exit code ${code}`;
  // Its stderr may hold a crash's stack: not a reason to call it bad input.
  const Kind = handle.stderr.length ? Error : HostError;
  return new Kind(`${handle.id} exited before it was ${what}: ${why}`);
}

/**
 * The host's next report of `type` (`accept`: which count; a poll's brief stats may arrive first). Rejects on its
 * error report, or when it exits first.
 */
export function nextReport<T extends HostReport['type']>(
  handle: HostHandle,
  type: T,
  accept: (report: Extract<HostReport, { type: T }>) => boolean = () => true,
): Promise<Extract<HostReport, { type: T }>> {
  handle.awaited++;
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      handle.awaited--;
      handle.link.off('message', onMessage);
      handle.link.off('exit', onExit);
    };
    const onMessage = (report: HostReport) => {
      if (report.type !== type && report.type !== 'error') return;
      if (report.type === type && !accept(report as Extract<HostReport, { type: T }>)) return;
      cleanup();
      if (report.type === 'error') reject(report.explained ? new HostError(`${handle.id}: ${report.message}`) : new Error(`${handle.id}: ${report.message}`));
      else resolve(report as Extract<HostReport, { type: T }>);
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(exitedBefore(handle, type, code, signal));
    };
    handle.link.on('message', onMessage);
    handle.link.once('exit', onExit);
  });
}

/** Rejects when the host's process exits, saying it did so before `what`. */
export function exitOf(handle: HostHandle, what: string): Promise<never> {
  return new Promise((_, reject) => handle.link.once('exit', (code, signal) => reject(exitedBefore(handle, what, code, signal))));
}
