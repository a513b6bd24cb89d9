// The service endpoint: clients talk to "the service", not to a host. The live primary owns one
// address, on TCP and UDP. TCP is the guest's serial port: whole request lines from any client go to
// it (a line is never interleaved with another client's), and every released serial output goes to
// every client, which keep the replies addressed to them (kv replies start with the client id); a
// client that connects mid-line gets the output from the next line on. UDP
// is the guest's network card: each datagram is one Ethernet frame (as QEMU's `-netdev dgram` sends
// them), and the service is the switch port the card is plugged into: it learns which peer each
// source MAC came from and sends each released frame there, or to every peer when it is broadcast or
// its destination unknown. A tap bridge (`lockstep ft --tap`, src/ft/cluster/tapbridge.ts) is a peer
// it knows from the start: a new primary's first frames (TCP retransmissions after a failover) must
// reach the tap before the tap has sent this primary anything. After a failover the new primary binds
// the same address once the old one has let go of it. Frames waiting for the guest are bounded: past
// the bound (a guest that does not run) they are dropped and counted, as a switch drops them.
import { createSocket, RemoteInfo, Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, Server, Socket } from 'node:net';
import { coalesceThisTurn } from '../channel';
import { ETHERNET_HEADER, formatMac, MAX_FRAME } from '../workload';

export interface ServiceAddress { host: string; port: number }

const MAX_LINE = 64 * 1024;
/** Peers a service remembers (the least recently heard from are forgotten first). */
const MAX_PEERS = 256;
/** Source MACs it remembers, likewise. */
const MAX_STATIONS = 1024;

export interface ServiceHandlers {
  line: (line: Uint8Array) => void;
  frame: (frame: Uint8Array) => void;
  /**
   * Whether the guest's frames waiting for a boundary fill its queue (the guest does not run: its backup does
   * not acknowledge): a frame that comes then is dropped and counted, as a switch drops at a full port.
   */
  full?: () => boolean;
}

export class Service {
  private server: Server | undefined;
  private udp: UdpSocket | undefined;
  private readonly clients = new Set<Socket>();
  /**
   * Clients that connected while the released serial output stood mid-line: they get it from the next line on.
   * Each client reads replies as lines, and the tail of another client's reply can parse (`12 5 OK` as `2 5 OK`).
   */
  private readonly joining = new Set<Socket>();
  /** The serial output released so far ends inside a line (set by a new primary whose guest's output did). */
  midLine = false;
  /** Peers by "address port", least recently heard from first; and which peer each source MAC is behind. */
  private readonly peers = new Map<string, RemoteInfo>();
  private readonly stations = new Map<string, string>();
  private closed = false;
  /** Datagrams that were not an Ethernet frame (shorter than its header, longer than the card takes). */
  datagramsRefused = 0;
  /** Frames taken in for the guest, and released frames sent out (to one peer or to every peer: one frame). */
  framesIn = 0;
  framesOut = 0;
  /** Frames dropped because the guest's queue was full (ServiceHandlers.full). */
  framesDiscarded = 0;
  /** The tap bridge, once the primary has it (before its guest runs). */
  tapBridge: ServiceAddress | undefined;

  constructor(
    private readonly address: ServiceAddress,
    private readonly handlers: ServiceHandlers,
  ) {}

  /** Binds the address on TCP and UDP, retrying while the previous owner still holds it. */
  async open(retryMs = 20, attempts = 500): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        this.server = await this.listen();
        this.udp = await this.bindUdp(this.port!);
        if (this.closed) this.close(); // closed while binding: let go of both
        return;
      } catch (error) {
        this.server?.close();
        this.server = undefined;
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= attempts) throw error;
        await new Promise((resolve) => setTimeout(resolve, retryMs));
      }
    }
  }

  private listen(): Promise<Server> {
    const server = createServer((socket) => this.accept(socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.address.port, this.address.host, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }

  /** The UDP side takes the TCP side's port, so one address names the service (port 0 included). */
  private bindUdp(port: number): Promise<UdpSocket> {
    const socket = createSocket(isIPv6(this.address.host) ? 'udp6' : 'udp4');
    socket.on('message', (datagram, peer) => this.receiveFrame(datagram, peer));
    return new Promise((resolve, reject) => {
      socket.once('error', (error) => {
        socket.close();
        reject(error);
      });
      socket.bind(port, this.address.host, () => {
        socket.removeAllListeners('error');
        socket.on('error', () => undefined); // a peer gone away (ICMP unreachable) is not the service's failure
        resolve(socket);
      });
    });
  }

  private receiveFrame(datagram: Buffer, peer: RemoteInfo): void {
    if (datagram.length < ETHERNET_HEADER || datagram.length > MAX_FRAME) {
      this.datagramsRefused++;
      return;
    }
    const key = `${peer.address} ${peer.port}`;
    this.peers.delete(key);
    this.peers.set(key, peer);
    if (this.peers.size > MAX_PEERS) this.forget(this.peers.keys().next().value!);
    this.learn(formatMac(datagram.subarray(6, 12)), key);
    if (this.handlers.full?.()) {
      this.framesDiscarded++;
      return;
    }
    this.framesIn++;
    this.handlers.frame(new Uint8Array(datagram));
  }

  private learn(mac: string, peer: string): void {
    this.stations.delete(mac);
    this.stations.set(mac, peer);
    if (this.stations.size > MAX_STATIONS) this.stations.delete(this.stations.keys().next().value!);
  }

  private forget(peer: string): void {
    this.peers.delete(peer);
    for (const [mac, key] of this.stations) if (key === peer) this.stations.delete(mac);
  }

  /** Sends a released frame to the peer behind its destination MAC, or to every peer (the tap bridge among them). */
  sendFrame(frame: Uint8Array): void {
    const udp = this.udp;
    if (!udp) return;
    this.framesOut++;
    const behind = this.peers.get(this.stations.get(formatMac(frame.subarray(0, 6))) ?? '');
    if (behind) return void udp.send(frame, behind.port, behind.address);
    const bridge = this.tapBridge;
    const isBridge = (peer: RemoteInfo) => bridge && peer.address === bridge.host && peer.port === bridge.port;
    for (const peer of this.peers.values()) if (!isBridge(peer)) udp.send(frame, peer.port, peer.address);
    if (bridge) udp.send(frame, bridge.port, bridge.host);
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    (this.midLine ? this.joining : this.clients).add(socket);
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      for (let end = pending.indexOf(0x0a); end >= 0; end = pending.indexOf(0x0a)) {
        this.handlers.line(new Uint8Array(pending.subarray(0, end + 1)));
        pending = pending.subarray(end + 1);
      }
      if (pending.length > MAX_LINE) socket.destroy(new Error(`request line longer than ${MAX_LINE} bytes`));
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.clients.delete(socket);
      this.joining.delete(socket);
    });
  }

  /** Sends released serial output to every client, each from the start of a line. */
  broadcast(data: Uint8Array): void {
    for (const client of this.clients) send(client, data);
    const lineEnd = data.indexOf(0x0a);
    if (lineEnd >= 0) {
      for (const client of this.joining) {
        this.clients.add(client);
        if (lineEnd + 1 < data.length) send(client, data.subarray(lineEnd + 1));
      }
      this.joining.clear();
    }
    if (data.length) this.midLine = data[data.length - 1] !== 0x0a;
  }

  /** The port it listens on (the one asked for, or the one the OS chose for port 0). */
  get port(): number | undefined {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : undefined;
  }

  get clientCount(): number {
    return this.clients.size + this.joining.size;
  }

  /** Idempotent: a halted primary is stopped again when the cluster stops (closing a closed UDP socket throws). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.server?.close();
    this.udp?.close();
    for (const client of [...this.clients, ...this.joining]) client.destroy();
  }
}

function send(client: Socket, data: Uint8Array): void {
  // One ack often releases several replies: each client gets them in one write.
  coalesceThisTurn(client);
  client.write(data);
}
