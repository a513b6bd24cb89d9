// A few anonymous usage events through @vscode/extension-telemetry: a session started (guest kind and
// mode), a failover, a divergence. The reporter sends through VS Code's TelemetryLogger, which drops
// everything when the user's telemetry level is off. Without a connection string nothing is created
// at all: the events are no-ops. Nothing identifying is sent (no paths, no guest names but the
// built-ins, no log contents).
import { TelemetryReporter, type CustomFetcher } from '@vscode/extension-telemetry';
import { isBuiltin } from '../ft/machine';

export interface LockstepTelemetry {
  sessionStarted(guest: string | undefined, mode: 'ft' | 'single' | 'replay'): void;
  failover(generation: number): void;
  divergence(pagesDiffering: number): void;
  dispose(): Promise<void>;
}

const noop: LockstepTelemetry = {
  sessionStarted: () => undefined,
  failover: () => undefined,
  divergence: () => undefined,
  dispose: () => Promise.resolve(),
};

/** Built-in guest names as they are; any other image is just "image" (its path is the user's). */
export function guestKind(guest: string | undefined): string {
  if (guest === undefined) return 'none';
  return isBuiltin(guest) ? guest : 'image';
}

/**
 * The connection string, if one is configured: the environment (for self-hosted collectors and the
 * tests) or the `lockstep.telemetryConnectionString` field of package.json (none is shipped).
 */
export function telemetryConnectionString(
  packageJson: { lockstep?: { telemetryConnectionString?: string } },
  env = process.env,
): string | undefined {
  const value = env.LOCKSTEP_TELEMETRY_CONNECTION_STRING || packageJson.lockstep?.telemetryConnectionString;
  return value ? value : undefined;
}

const nodeFetch: CustomFetcher = async (url, init) => {
  const response = await fetch(url, init);
  const headers: [string, string][] = [];
  response.headers.forEach((value, name) => headers.push([name, value]));
  return { status: response.status, headers, text: () => response.text() };
};

/**
 * `fetcher` is the reporter's send path: Node's fetch by default (the reporter's own sender speaks
 * HTTPS only, and a self-hosted collector may be plain HTTP); tests observe the send path with it.
 */
export function createTelemetry(
  connectionString: string | undefined,
  fetcher: CustomFetcher = nodeFetch,
): LockstepTelemetry {
  if (!connectionString) return noop;
  const reporter = new TelemetryReporter(connectionString, undefined, undefined, fetcher);
  return {
    sessionStarted: (guest, mode) => reporter.sendTelemetryEvent('session/start', { guest: guestKind(guest), mode }),
    failover: (generation) => reporter.sendTelemetryEvent('failover', {}, { generation }),
    divergence: (pagesDiffering) => reporter.sendTelemetryEvent('divergence', {}, { pagesDiffering }),
    dispose: () => reporter.dispose(),
  };
}
