// Ethernet frames as the guest's NE2000 sends and receives them: just enough of Ethernet II, ARP,
// IPv4 and UDP to talk to the kv guest over the network (guests/README.md), and of TCP to show a
// frame to a person in one line (the log panel, `lockstep log`). Node has no packet library for this, and the
// few on npm either need native raw sockets or decode only; the whole of it is one screen here.

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
const IP_PROTOCOL_UDP = 17;
const IP_PROTOCOL_TCP = 6;
const TCP_HEADER = 20;
/** TCP's flags as tcpdump shows them, lowest bit first: FIN SYN RST PSH ACK URG. */
const TCP_FLAGS = ['F', 'S', 'R', 'P', '.', 'U'];
export const ETHERNET_HEADER = 14;
const IPV4_HEADER = 20;
const UDP_HEADER = 8;
const ARP_LENGTH = 28;
/** The largest frame an NE2000 sends or takes, without its CRC. */
export const MAX_FRAME = 1514;
/** Shorter frames are padded to this on the wire. */
const MIN_FRAME = 60;

export interface UdpDatagram {
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  srcIp: Uint8Array;
  dstIp: Uint8Array;
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

export interface ArpPacket {
  op: 'request' | 'reply';
  senderMac: Uint8Array;
  senderIp: Uint8Array;
  targetMac: Uint8Array;
  targetIp: Uint8Array;
}

export const BROADCAST_MAC = Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function formatIp(ip: Uint8Array): string {
  return Array.from(ip).join('.');
}

export function parseIp(text: string): Uint8Array {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${JSON.stringify(text)}`);
  return Uint8Array.from(parts);
}

/** The Internet checksum (RFC 1071): the ones' complement of the ones' complement sum of 16-bit words. */
export function internetChecksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (bytes.length & 1) sum += bytes[bytes.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ethernetFrame(dst: Uint8Array, src: Uint8Array, ethertype: number, body: Uint8Array): Uint8Array {
  const frame = new Uint8Array(Math.max(MIN_FRAME, ETHERNET_HEADER + body.length));
  frame.set(dst, 0);
  frame.set(src, 6);
  new DataView(frame.buffer).setUint16(12, ethertype);
  frame.set(body, ETHERNET_HEADER);
  return frame;
}

/** A UDP datagram in an IPv4 packet in an Ethernet frame; the UDP checksum is computed too. */
export function udpFrame(d: UdpDatagram): Uint8Array {
  const udpLength = UDP_HEADER + d.payload.length;
  const packet = new Uint8Array(IPV4_HEADER + udpLength);
  const view = new DataView(packet.buffer);
  packet[0] = 0x45;
  view.setUint16(2, packet.length);
  packet[8] = 64;
  packet[9] = IP_PROTOCOL_UDP;
  packet.set(d.srcIp, 12);
  packet.set(d.dstIp, 16);
  view.setUint16(10, internetChecksum(packet.subarray(0, IPV4_HEADER)));
  view.setUint16(IPV4_HEADER, d.srcPort);
  view.setUint16(IPV4_HEADER + 2, d.dstPort);
  view.setUint16(IPV4_HEADER + 4, udpLength);
  packet.set(d.payload, IPV4_HEADER + UDP_HEADER);
  // 0 would mean "no checksum": ones' complement has two zeros, so send the other one.
  view.setUint16(IPV4_HEADER + 6, udpChecksum(d.srcIp, d.dstIp, packet.subarray(IPV4_HEADER)) || 0xffff);
  return ethernetFrame(d.dstMac, d.srcMac, ETHERTYPE_IPV4, packet);
}

/**
 * The Internet checksum over the pseudo-header (addresses, protocol, length) and the UDP segment as
 * it is: with its checksum field 0 that is the checksum to send; with a valid checksum in it, 0.
 */
function udpChecksum(srcIp: Uint8Array, dstIp: Uint8Array, segment: Uint8Array): number {
  const pseudo = new Uint8Array(12 + segment.length);
  pseudo.set(srcIp, 0);
  pseudo.set(dstIp, 4);
  pseudo[9] = IP_PROTOCOL_UDP;
  new DataView(pseudo.buffer).setUint16(10, segment.length);
  pseudo.set(segment, 12);
  return internetChecksum(pseudo);
}

export function arpFrame(a: ArpPacket, dstMac = a.op === 'request' ? BROADCAST_MAC : a.targetMac): Uint8Array {
  const body = new Uint8Array(ARP_LENGTH);
  const view = new DataView(body.buffer);
  view.setUint16(0, 1); // Ethernet
  view.setUint16(2, ETHERTYPE_IPV4);
  body[4] = 6;
  body[5] = 4;
  view.setUint16(6, a.op === 'request' ? 1 : 2);
  body.set(a.senderMac, 8);
  body.set(a.senderIp, 14);
  body.set(a.targetMac, 18);
  body.set(a.targetIp, 24);
  return ethernetFrame(dstMac, a.senderMac, ETHERTYPE_ARP, body);
}

/** What a TCP segment's header says (not checked: the panel shows frames, Lockstep never speaks TCP). */
export interface TcpSegment {
  srcIp: Uint8Array;
  dstIp: Uint8Array;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** tcpdump's letters: S SYN, F FIN, R RST, P PSH, U URG, '.' ACK. */
  flags: string;
  window: number;
  payload: Uint8Array;
}

export interface ParsedFrame {
  dstMac: Uint8Array;
  srcMac: Uint8Array;
  ethertype: number;
  arp?: ArpPacket;
  udp?: UdpDatagram & { checksumOk: boolean };
  tcp?: TcpSegment;
  /** IPv4 that is neither a well-formed UDP datagram nor a TCP segment: its protocol number. */
  ipProtocol?: number;
}

/** Reads a frame; undefined when it is shorter than an Ethernet header. Malformed payloads are left unparsed. */
export function parseFrame(frame: Uint8Array): ParsedFrame | undefined {
  if (frame.length < ETHERNET_HEADER) return undefined;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const parsed: ParsedFrame = {
    dstMac: frame.subarray(0, 6),
    srcMac: frame.subarray(6, 12),
    ethertype: view.getUint16(12),
  };
  const body = frame.subarray(ETHERNET_HEADER);
  if (parsed.ethertype === ETHERTYPE_ARP && body.length >= ARP_LENGTH) parsed.arp = parseArp(body);
  if (parsed.ethertype === ETHERTYPE_IPV4 && body.length >= IPV4_HEADER) Object.assign(parsed, parseIpv4(parsed, body));
  return parsed;
}

function parseArp(body: Uint8Array): ArpPacket | undefined {
  const op = (body[6] << 8) | body[7];
  if (op !== 1 && op !== 2) return undefined;
  return { op: op === 1 ? 'request' : 'reply', senderMac: body.subarray(8, 14), senderIp: body.subarray(14, 18), targetMac: body.subarray(18, 24), targetIp: body.subarray(24, 28) };
}

function parseIpv4(frame: ParsedFrame, body: Uint8Array): Pick<ParsedFrame, 'udp' | 'tcp' | 'ipProtocol'> {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const headerLength = (body[0] & 0x0f) * 4;
  const totalLength = view.getUint16(2);
  const protocol = body[9];
  const wellFormed = body[0] >> 4 === 4 && headerLength >= IPV4_HEADER && totalLength <= body.length;
  if (wellFormed && protocol === IP_PROTOCOL_TCP && totalLength >= headerLength + TCP_HEADER) {
    const tcp = parseTcp(body.subarray(12, 16), body.subarray(16, 20), body.subarray(headerLength, totalLength));
    return tcp ? { tcp } : { ipProtocol: protocol };
  }
  if (
    body[0] >> 4 !== 4 ||
    headerLength < IPV4_HEADER ||
    totalLength > body.length ||
    totalLength < headerLength + UDP_HEADER ||
    protocol !== IP_PROTOCOL_UDP
  ) {
    return { ipProtocol: protocol };
  }
  const udp = body.subarray(headerLength, totalLength);
  const udpView = new DataView(udp.buffer, udp.byteOffset, udp.byteLength);
  const udpLength = udpView.getUint16(4);
  if (udpLength < UDP_HEADER || udpLength > udp.length) return { ipProtocol: protocol };
  const [srcIp, dstIp, segment] = [body.subarray(12, 16), body.subarray(16, 20), udp.subarray(0, udpLength)];
  return {
    udp: {
      srcMac: frame.srcMac, dstMac: frame.dstMac, srcIp, dstIp,
      srcPort: udpView.getUint16(0), dstPort: udpView.getUint16(2), payload: udp.subarray(UDP_HEADER, udpLength),
      checksumOk: udpView.getUint16(6) === 0 || udpChecksum(srcIp, dstIp, segment) === 0,
    },
  };
}

function parseTcp(srcIp: Uint8Array, dstIp: Uint8Array, segment: Uint8Array): TcpSegment | undefined {
  const view = new DataView(segment.buffer, segment.byteOffset, segment.byteLength);
  const dataOffset = (segment[12] >> 4) * 4;
  if (dataOffset < TCP_HEADER || dataOffset > segment.length) return undefined;
  const flags = TCP_FLAGS.filter((_, bit) => segment[13] & (1 << bit)).join('');
  return {
    srcIp, dstIp, srcPort: view.getUint16(0), dstPort: view.getUint16(2),
    seq: view.getUint32(4), ack: view.getUint32(8), flags, window: view.getUint16(14),
    payload: segment.subarray(dataOffset),
  };
}

/**
 * One line for a person, showing what it carries through `renderPayload`:
 * `UDP 10.0.2.2:40001 > 10.0.2.15:7070 "1 1 GET a\n"`, `ARP who-has 10.0.2.15 tell 10.0.2.2`,
 * `TCP 10.0.2.15:80 > 10.0.2.1:41234 [.] seq 1001 ack 78 win 64240 len 1448 "00000112\n..."` (as tcpdump
 * shows a segment: its flags, absolute sequence numbers, and the payload's length).
 */
export function describeFrame(frame: Uint8Array, renderPayload: (payload: Uint8Array) => string): string {
  const parsed = parseFrame(frame);
  if (!parsed) return `runt frame (${frame.length} bytes)`;
  const { arp, udp, tcp } = parsed;
  if (tcp) {
    const ends = `${formatIp(tcp.srcIp)}:${tcp.srcPort} > ${formatIp(tcp.dstIp)}:${tcp.dstPort}`;
    const shown = tcp.payload.length ? ` ${renderPayload(tcp.payload)}` : '';
    return `TCP ${ends} [${tcp.flags}] seq ${tcp.seq} ack ${tcp.ack} win ${tcp.window} len ${tcp.payload.length}${shown}`;
  }
  if (udp) {
    const bad = udp.checksumOk ? '' : ' (bad UDP checksum)';
    return `UDP ${formatIp(udp.srcIp)}:${udp.srcPort} > ${formatIp(udp.dstIp)}:${udp.dstPort}${bad} ${renderPayload(udp.payload)}`;
  }
  if (arp) {
    return arp.op === 'request'
      ? `ARP who-has ${formatIp(arp.targetIp)} tell ${formatIp(arp.senderIp)}`
      : `ARP ${formatIp(arp.senderIp)} is-at ${formatMac(arp.senderMac)}`;
  }
  if (parsed.ipProtocol !== undefined) return `IPv4 protocol ${parsed.ipProtocol} ${formatMac(parsed.srcMac)} > ${formatMac(parsed.dstMac)}`;
  return `ethertype 0x${parsed.ethertype.toString(16).padStart(4, '0')} ${formatMac(parsed.srcMac)} > ${formatMac(parsed.dstMac)} ${renderPayload(frame.subarray(ETHERNET_HEADER))}`;
}
