// Ethernet frames for tests that show or carry them: the kv clients' and the guest's MACs, and a TCP
// segment as the guest's TCP sends one (Lockstep itself never builds TCP: it only shows it).
import { parseIp } from '../../src/ft/workload';

export const CLIENT_MAC = Uint8Array.of(0x02, 0x4d, 0, 0, 0, 7);
export const GUEST_MAC = Uint8Array.of(0x02, 0x4c, 0x53, 0, 0, 1);

/** 10.0.2.15:80 > 10.0.2.1:41234, window 64240, with `options` bytes of TCP options; checksums are left 0. */
export function tcpFrame(flags: number, seq: number, ack: number, payload: string, options = 0): Uint8Array {
  const data = Buffer.from(payload);
  const tcpLength = 20 + options + data.length;
  const bytes = Buffer.alloc(14 + 20 + tcpLength);
  bytes.set(CLIENT_MAC, 0);
  bytes.set(GUEST_MAC, 6);
  bytes.writeUInt16BE(0x0800, 12);
  bytes[14] = 0x45;
  bytes.writeUInt16BE(20 + tcpLength, 16);
  bytes[23] = 6;
  bytes.set(parseIp('10.0.2.15'), 26);
  bytes.set(parseIp('10.0.2.1'), 30);
  bytes.writeUInt16BE(80, 34);
  bytes.writeUInt16BE(41234, 36);
  bytes.writeUInt32BE(seq, 38);
  bytes.writeUInt32BE(ack, 42);
  bytes[46] = ((20 + options) / 4) << 4;
  bytes[47] = flags;
  bytes.writeUInt16BE(64240, 48);
  bytes.set(data, 54 + options);
  return new Uint8Array(bytes);
}
