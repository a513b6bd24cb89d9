// A primary in a process of its own, for test/ft/channel/ackthread.test.ts: it must see the backup's acks while
// the test's main thread is blocked. Prints its port; once the backup asks for the log, sends
// `ENTRIES` entries and writes `acked SEQ at AT` to the marker file when they are all acknowledged.
// At the backup's first heartbeat it writes `heartbeat at AT` to MARKER.heartbeat. A line `more N` on stdin sends N
// more; when the backup hangs up it prints `highest ack SEQ, heartbeats after more N` (N: those that arrived after
// the first `more` line).
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { listenChannel } from '../../src/ft/channel';
import type { LogEntry } from '../../src/ft/log';

const ENTRIES = 5;
const [marker, secret] = process.argv.slice(2);

const entry = (seq: number): LogEntry =>
  seq % 2 ? { kind: 'input', seq, at: seq * 1000, device: 'serial', data: new TextEncoder().encode(`GET k${seq}\n`) } : { kind: 'output', seq, at: seq * 1000, device: 'serial', data: new TextEncoder().encode(`OK ${seq}\n`) };

async function main(): Promise<void> {
  const server = await listenChannel({ secret, role: 'primary', expectPeerRole: 'backup' });
  process.stdout.write(`port ${server.port}\n`);
  const channel = await server.accept();
  let sent = 0;
  let highest = 0;
  const send = (count: number) => { for (let i = 0; i < count; i++) channel.send(entry(++sent)); };
  let heartbeats = 0;
  let heartbeatsAfterMore: number | undefined;
  channel.on('message', (frame) => {
    if (frame.kind === 'resend-from' && sent === 0) send(ENTRIES);
    if (frame.kind === 'heartbeat' && heartbeatsAfterMore !== undefined) heartbeatsAfterMore++;
    if (frame.kind === 'heartbeat' && heartbeats++ === 0) writeFileSync(`${marker}.heartbeat`, `heartbeat at ${frame.at}\n`);
    if (frame.kind !== 'ack' || frame.seq <= highest) return;
    highest = frame.seq;
    if (highest === ENTRIES) writeFileSync(marker, `acked ${frame.seq} at ${frame.at}\n`);
  });
  channel.on('close', () => {
    process.stdout.write(`highest ack ${highest}, heartbeats after more ${heartbeatsAfterMore ?? 0}\n`);
    process.exit(0);
  });
  createInterface({ input: process.stdin }).on('line', (line) => {
    const more = /^more (\d+)$/.exec(line);
    if (!more) return;
    heartbeatsAfterMore ??= 0;
    send(Number(more[1]));
  });
}

void main();
