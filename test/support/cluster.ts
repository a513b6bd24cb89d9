// Starting real FT clusters from tests: hosts are separate processes running the CLI from source.
import { createServer } from 'node:net';
import { ClusterOptions, HostLauncher } from '../../src/ft/cluster';
import { TEST_EPOCH } from './guests';

export const SOURCE_LAUNCHER: HostLauncher = { script: 'src/cli.ts', execArgv: ['--import', 'tsx'] };

export function clusterOptions(guest: string, extra: Partial<ClusterOptions> = {}): ClusterOptions {
  return {
    guest, clock: 'virtual', jit: true, memoryMiB: 16, epochLength: TEST_EPOCH,
    launcher: SOURCE_LAUNCHER, detector: { timeoutMs: 1000, heartbeatMs: 50 },
    ...extra,
  };
}

export const until = async (
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
};

/**
 * A port free now, for a process the test starts that takes its port as an argument (an agent,
 * code-server). Another socket could take it before that process binds it: the cluster itself never
 * does this (its first primary binds port 0 and reports the port).
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
