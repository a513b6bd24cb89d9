// The primary's backups (src/ft/replication/backupset.ts) over a real logging channel: how output
// markers leave. A slice's first output leaves at once (its round trip starts); the rest of the slice's
// outputs (a guest's TCP sends a burst of segments in one slice) leave together at the slice's end,
// one write and one wake-up of the backup for the burst rather than one per frame.
import { strict as assert } from 'node:assert';
import { connectChannel, listenChannel, type Channel, type ChannelServer } from '../../../src/ft/channel';
import type { Frame, OutputEntry } from '../../../src/ft/log';
import { BackupSet } from '../../../src/ft/replication/backupset';
import { bytes } from '../samples';

const SECRET = 'backupset-test';

function output(seq: number, at: number, device: OutputEntry['device'] = 'net'): OutputEntry {
  return { kind: 'output', seq, at, device, data: bytes(`frame ${seq}`) };
}

/** The next `n` frames the backup's end delivers. */
async function take(channel: Channel, n: number): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const frame of channel.messages()) {
    out.push(frame);
    if (out.length === n) break;
  }
  return out;
}

describe('the primary\'s backups: output markers on the logging channel (src/ft/replication/backupset.ts)', () => {
  let server: ChannelServer;
  let primaryEnd: Channel;
  let backupEnd: Channel;
  let backups: BackupSet;

  beforeEach(async () => {
    server = await listenChannel({ port: 0, secret: SECRET, role: 'primary', expectPeerRole: 'backup' });
    const accepted = new Promise<Channel>((resolve) => server.once('channel', resolve));
    backupEnd = await connectChannel({ port: server.port!, secret: SECRET, role: 'backup' });
    primaryEnd = await accepted;
    await primaryEnd.ready;
    backups = new BackupSet();
    backups.add(primaryEnd, 0, false);
  });

  afterEach(async () => {
    backupEnd.destroy();
    primaryEnd.destroy();
    await server.close();
  });

  it('sends a slice\'s first output at once and the rest of its outputs in one write when the slice ends', async () => {
    backups.send(output(1, 1000));
    assert.equal(primaryEnd.pendingBytes, 0, 'the first output of the slice is handed to the OS at once');
    backups.send(output(2, 1000));
    backups.send(output(3, 1000, 'serial'));
    assert.ok(primaryEnd.pendingBytes > 0, 'the slice\'s later outputs wait for its end');
    backups.endSlice();
    assert.equal(primaryEnd.pendingBytes, 0, 'the slice ended: its outputs are handed to the OS together');
    backups.send(output(4, 2000));
    assert.equal(primaryEnd.pendingBytes, 0, 'the next slice\'s first output leaves at once');
    const seqs = (await take(backupEnd, 4)).map((frame) => (frame as OutputEntry).seq);
    assert.deepEqual(seqs, [1, 2, 3, 4], 'in log order');
  });

  it('leaves a disk write for the end of the turn, at a slice\'s end too (only the outputs after it flush it)', () => {
    backups.send(output(1, 1000, 'disk'));
    backups.endSlice();
    assert.ok(primaryEnd.pendingBytes > 0, 'a disk write has no write of its own');
    backups.send(output(2, 1000));
    assert.equal(primaryEnd.pendingBytes, 0, 'the output after it takes it along');
  });
});
