// Run inside a network namespace (test/ft/cluster/tap.test.ts: `ip netns exec NS node --import tsx THIS RECORD`):
// a kv pair on tap0 whose primary is SIGKILLed while it holds a reply the backup has, so the new primary
// must send that reply again at go-live (VM-FT: it may not have been sent). An ordinary UDP socket on the tap
// sends its request once and never again. The pair runs in this process (a Cluster) so that the backup's acks
// can be held back (a channel delay at its end only) and the moment read from the hosts' stats; a Cluster on a
// tap must be in the namespace. Prints one JSON line: the request held (`1 N `), its reply (or null), and the
// go-live entry's detail.
import { createSocket } from 'node:dgram';
import { Cluster } from '../../src/ft/cluster';
import { readLogFile } from '../../src/ft/log';
import { clusterOptions, until } from './cluster';

const GUEST = '10.0.2.15';
const KV_PORT = 7070;
/** The pair's detection timeout: the primary is killed well within it after the backup's acks stop. */
const DETECT_MS = 5000;
/** Longer than the test: the backup's acks and heartbeats are held back for good. */
const HOLD_MS = 600_000;

async function main(record: string): Promise<void> {
  const cluster = new Cluster(clusterOptions('kv', {
    tap: { name: 'tap0', address: '10.0.2.1/24' }, record, detector: { timeoutMs: DETECT_MS, heartbeatMs: 50 },
  }));
  const socket = createSocket('udp4');
  const replies: string[] = [];
  socket.on('message', (data) => replies.push(data.toString('latin1')));
  await new Promise<void>((resolve) => socket.bind(0, resolve));
  let asked: string;
  let reply: string | null;
  try {
    await cluster.start();
    // The first request is asked again until answered (the guest's card comes up, ARP): the backup is attached.
    for (let tries = 0; !replies.length; tries++) {
      if (tries === 120) throw new Error('no reply to the first request in 2 minutes');
      socket.send('1 1 PUT k v\n', KV_PORT, GUEST);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const failover = new Promise<void>((resolve) => cluster.once('failover', () => resolve()));
    cluster.command('backup', { type: 'channel-fault', kind: 'delay', value: HOLD_MS });
    // Each request is sent once; one answered by the old primary was acked before the delay took effect: the next.
    asked = await requestUntilHeld(cluster, (line) => socket.send(line, KV_PORT, GUEST), replies);
    cluster.kill('primary');
    await failover;
    await until(() => replies.some((line) => line.startsWith(asked)), 'the reply', 30_000).catch(() => undefined);
    reply = replies.find((line) => line.startsWith(asked)) ?? null;
  } finally {
    socket.close();
    await cluster.stop();
  }
  const { entries } = await readLogFile(record);
  const goLive = entries.find((e) => e.kind === 'control' && e.op === 'go-live') as { detail: string } | undefined;
  process.stdout.write(`${JSON.stringify({ asked, reply, goLive: goLive && JSON.parse(goLive.detail) })}\n`);
}

/**
 * Sends `1 N GET k` for N = 2, 3, ... until one's reply is held by the primary and received by the backup
 * (everything the primary had logged, the reply among them); returns that request's `1 N ` (its reply's start).
 */
async function requestUntilHeld(cluster: Cluster, send: (line: string) => void, replies: string[]): Promise<string> {
  for (let n = 2; n < 100; n++) {
    const id = `1 ${n} `;
    send(`${id}GET k\n`);
    let held = false;
    await until(async () => {
      const primary = await cluster.statsOf('primary');
      const backup = await cluster.statsOf('backup');
      held = !!primary && !!backup && primary.outputsHeld > 0 && backup.acked >= primary.seq;
      return held || replies.some((line) => line.startsWith(id));
    }, `the reply to ${id}GET k`);
    if (held) return id;
  }
  throw new Error('every reply was released: the backup\'s acks were never held back');
}

main(process.argv[2]).catch((error: Error) => {
  process.stderr.write(`${error.message}\n`);
  process.exitCode = 1;
});
