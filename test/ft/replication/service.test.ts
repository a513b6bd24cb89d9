// The service on real sockets: its UDP side (one Ethernet frame per datagram, switched by MAC) and the serial
// output its TCP clients get (each from a line's start).
import { strict as assert } from 'node:assert';
import { createSocket, Socket } from 'node:dgram';
import { once } from 'node:events';
import { connect, type Socket as TcpSocket } from 'node:net';
import { BROADCAST_MAC } from '../../../src/ft/workload';
import { Service } from '../../../src/ft/replication';

const MAC_A = Uint8Array.of(2, 0, 0, 0, 0, 0xa);
const MAC_B = Uint8Array.of(2, 0, 0, 0, 0, 0xb);
const GUEST = Uint8Array.of(2, 0x4c, 0x53, 0, 0, 1);

function frame(dst: Uint8Array, src: Uint8Array, tag: number, length = 60): Uint8Array {
  const f = new Uint8Array(length);
  f.set(dst, 0);
  f.set(src, 6);
  f[14] = tag;
  return f;
}

async function peer(): Promise<{ socket: Socket; next: () => Promise<Uint8Array> }> {
  const socket = createSocket('udp4');
  const queue: Uint8Array[] = [];
  const waiting: ((f: Uint8Array) => void)[] = [];
  socket.on('message', (m) => (waiting.length ? waiting.shift()!(new Uint8Array(m)) : queue.push(new Uint8Array(m))));
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return {
    socket,
    next: () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiting.push(resolve))),
  };
}

/** A TCP client of the service, connected (and accepted: counted by the service) before it returns. */
async function serialClient(service: Service): Promise<{ socket: TcpSocket; text: () => string }> {
  const before = service.clientCount;
  const socket = connect(service.port!, '127.0.0.1');
  let text = '';
  socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1'); });
  await once(socket, 'connect');
  while (service.clientCount === before) await new Promise((resolve) => setImmediate(resolve));
  return { socket, text: () => text };
}

describe('the service endpoint (src/ft/replication/service.ts)', () => {
  it('starts a client that connects mid-line at the next line: another client\'s tail never reaches it', async () => {
    const service = new Service({ host: '127.0.0.1', port: 0 }, { line: () => undefined, frame: () => undefined });
    await service.open();
    const clients: TcpSocket[] = [];
    try {
      const early = await serialClient(service);
      service.broadcast(Buffer.from('1'));
      const late = await serialClient(service); // between the '1' and the '2 5 OK' of client 12's reply
      service.broadcast(Buffer.from('2 5 OK\n3 1 '));
      const later = await serialClient(service);
      service.broadcast(Buffer.from('OK\n'));
      const atStart = await serialClient(service); // at a line boundary: from the next byte on
      service.broadcast(Buffer.from('4 2 OK\n'));
      clients.push(early.socket, late.socket, later.socket, atStart.socket);
      // At least as many bytes as expected: a client given another's tail has more.
      const got = async (client: typeof early, expected: string) => {
        while (client.text().length < expected.length) await once(client.socket, 'data');
        assert.equal(client.text(), expected);
      };
      await got(early, '12 5 OK\n3 1 OK\n4 2 OK\n');
      await got(late, '3 1 OK\n4 2 OK\n');
      await got(later, '4 2 OK\n');
      await got(atStart, '4 2 OK\n');
    } finally {
      clients.forEach((c) => c.destroy());
      service.close();
    }
  });

  it('a new primary whose guest stood mid-line (midLine) starts even its first client at the next line', async () => {
    const service = new Service({ host: '127.0.0.1', port: 0 }, { line: () => undefined, frame: () => undefined });
    service.midLine = true;
    await service.open();
    const first = await serialClient(service);
    try {
      service.broadcast(Buffer.from('2 5 OK\n3 1 OK\n'));
      while (first.text().length < '3 1 OK\n'.length) await once(first.socket, 'data');
      assert.equal(first.text(), '3 1 OK\n');
    } finally {
      first.socket.destroy();
      service.close();
    }
  });

  it('takes Ethernet frames on the TCP port number over UDP and sends each released frame to the peer behind its MAC', async () => {
    const received: Uint8Array[] = [];
    let arrived: () => void = () => undefined;
    const service = new Service({ host: '127.0.0.1', port: 0 }, { line: () => undefined, frame: (f) => { received.push(f); arrived(); } });
    await service.open();
    const [a, b] = [await peer(), await peer()];
    try {
      const port = service.port!;
      const tcp = connect(port, '127.0.0.1');
      await once(tcp, 'connect');
      tcp.destroy();
      const send = async (p: Socket, f: Uint8Array) => {
        const got = new Promise<void>((resolve) => { arrived = resolve; });
        p.send(f, port, '127.0.0.1');
        await got;
      };
      await send(a.socket, frame(GUEST, MAC_A, 1));
      await send(b.socket, frame(GUEST, MAC_B, 2));
      assert.deepEqual(received.map((f) => f[14]), [1, 2]);

      service.sendFrame(frame(MAC_A, GUEST, 10)); // to A only
      service.sendFrame(frame(BROADCAST_MAC, GUEST, 11)); // to both
      assert.equal((await a.next())[14], 10);
      assert.equal((await a.next())[14], 11);
      assert.equal((await b.next())[14], 11, 'B never saw the frame addressed to A: its first frame is the broadcast');

      // Datagrams that cannot be frames are refused and counted; the next good one still arrives.
      a.socket.send(new Uint8Array(13), port, '127.0.0.1');
      a.socket.send(new Uint8Array(1515), port, '127.0.0.1');
      await send(a.socket, frame(GUEST, MAC_A, 3));
      assert.deepEqual(received.map((f) => f[14]), [1, 2, 3]);
      assert.equal(service.datagramsRefused, 2);
    } finally {
      service.close();
      a.socket.close();
      b.socket.close();
    }
  });

  it('drops and counts a frame that comes while the guest\'s queue is full, as a switch does, and takes the next', async () => {
    const a = await peer();
    const taken: number[] = [];
    let full = true;
    let arrived: () => void = () => undefined;
    const service = new Service({ host: '127.0.0.1', port: 0 }, {
      line: () => undefined,
      frame: (f) => { taken.push(f[14]); arrived(); },
      full: () => { arrived(); return full; },
    });
    await service.open();
    try {
      const reach = (n: number) => new Promise<void>((resolve) => {
        arrived = resolve;
        a.socket.send(frame(GUEST, MAC_A, n), service.port!, '127.0.0.1');
      });
      await reach(1);
      full = false;
      await reach(2);
      assert.deepEqual(taken, [2]);
      assert.deepEqual([service.framesDiscarded, service.framesIn], [1, 1]);
    } finally {
      service.close();
      a.socket.close();
    }
  });

  it('sends frames to a tap bridge it was told of before the bridge sent any, once each, and counts frames', async () => {
    const [bridge, other] = [await peer(), await peer()];
    const address = bridge.socket.address();
    let arrived: () => void = () => undefined;
    const service = new Service({ host: '127.0.0.1', port: 0 }, { line: () => undefined, frame: () => arrived() });
    await service.open();
    service.tapBridge = { host: address.address, port: address.port };
    try {
      // A new primary's first frame after a failover: no peer has spoken to it yet.
      service.sendFrame(frame(MAC_A, GUEST, 20));
      assert.equal((await bridge.next())[14], 20);
      // The bridge speaks, and another peer: a frame to nobody known goes to both, to the bridge once.
      for (const [p, mac] of [[bridge, MAC_A], [other, MAC_B]] as const) {
        const got = new Promise<void>((resolve) => { arrived = resolve; });
        p.socket.send(frame(GUEST, mac, 1), service.port!, '127.0.0.1');
        await got;
      }
      service.sendFrame(frame(BROADCAST_MAC, GUEST, 21));
      service.sendFrame(frame(MAC_A, GUEST, 22)); // behind the bridge now
      assert.deepEqual([(await bridge.next())[14], (await bridge.next())[14], (await other.next())[14]], [21, 22, 21]);
      assert.deepEqual([service.framesIn, service.framesOut], [2, 3]);
    } finally {
      service.close();
      bridge.socket.close();
      other.socket.close();
    }
  });
});
