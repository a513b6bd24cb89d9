import { strict as assert } from 'node:assert';
import { arpFrame, describeFrame, internetChecksum, parseFrame, parseIp, udpFrame, type UdpDatagram } from '../../../src/ft/workload';
import { renderBytes } from '../../../src/ft/log';

const CLIENT_MAC = Uint8Array.of(0x02, 0x4d, 0, 0, 0, 7);
const GUEST_MAC = Uint8Array.of(0x02, 0x4c, 0x53, 0, 0, 1);
const datagram: UdpDatagram = {
  srcMac: CLIENT_MAC, dstMac: GUEST_MAC, srcIp: parseIp('10.0.2.2'), dstIp: parseIp('10.0.2.15'),
  srcPort: 40001, dstPort: 7070, payload: Buffer.from('7 1 GET a\n'),
};
const show = (frame: Uint8Array) => describeFrame(frame, (payload) => renderBytes(payload));

describe('Ethernet frames (src/ft/workload/ethernet.ts)', () => {
  it('computes the Internet checksum of RFC 1071 section 3 example, and of an odd length', () => {
    // RFC 1071: the words 0001 f203 f4f5 f6f7 sum (with end-around carry) to ddf2.
    assert.equal(internetChecksum(Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7)), 0xffff - 0xddf2);
    assert.equal(internetChecksum(Uint8Array.of(0x01)), 0xffff - 0x0100, 'an odd byte is padded with a zero');
  });

  it('builds a UDP frame whose IPv4 and UDP checksums verify, and reads it back', () => {
    const frame = udpFrame(datagram);
    assert.equal(frame.length, 60, 'padded to the Ethernet minimum');
    assert.equal(internetChecksum(frame.subarray(14, 34)), 0, 'a header with its checksum sums to zero');
    const udp = parseFrame(frame)?.udp;
    assert.ok(udp);
    assert.deepEqual({ ...udp, payload: Buffer.from(udp.payload).toString() }, { ...datagram, checksumOk: true, payload: '7 1 GET a\n' });
    assert.equal(show(frame), 'UDP 10.0.2.2:40001 > 10.0.2.15:7070 "7 1 GET a\\n"');
  });

  it('detects a damaged UDP datagram, and leaves a frame with a lying length unparsed', () => {
    const frame = udpFrame(datagram);
    frame[14 + 20 + 8] ^= 0x01; // first payload byte
    assert.equal(parseFrame(frame)?.udp?.checksumOk, false);
    assert.match(show(frame), /^UDP 10\.0\.2\.2:40001 > 10\.0\.2\.15:7070 \(bad UDP checksum\) /);
    const lying = udpFrame(datagram);
    new DataView(lying.buffer).setUint16(14 + 2, 2000); // IPv4 total length past the frame's end
    assert.equal(parseFrame(lying)?.udp, undefined);
    assert.match(show(lying), /^IPv4 protocol 17 /);
  });

  it('builds and reads ARP requests and replies', () => {
    const request = arpFrame({ op: 'request', senderMac: CLIENT_MAC, senderIp: parseIp('10.0.2.2'), targetMac: new Uint8Array(6), targetIp: parseIp('10.0.2.15') });
    assert.deepEqual(Array.from(request.subarray(0, 6)), [255, 255, 255, 255, 255, 255], 'a request is broadcast');
    assert.equal(show(request), 'ARP who-has 10.0.2.15 tell 10.0.2.2');
    const reply = arpFrame({ op: 'reply', senderMac: GUEST_MAC, senderIp: parseIp('10.0.2.15'), targetMac: CLIENT_MAC, targetIp: parseIp('10.0.2.2') });
    assert.deepEqual(parseFrame(reply)?.dstMac, CLIENT_MAC);
    assert.equal(show(reply), 'ARP 10.0.2.15 is-at 02:4c:53:00:00:01');
  });

  it('describes frames it does not understand by their header and bytes, and runts by their size', () => {
    const frame = Uint8Array.of(...GUEST_MAC, ...CLIENT_MAC, 0x86, 0xdd, 0xde, 0xad);
    assert.equal(show(frame), 'ethertype 0x86dd 02:4d:00:00:00:07 > 02:4c:53:00:00:01 0xdead');
    assert.equal(show(new Uint8Array(13)), 'runt frame (13 bytes)');
    assert.throws(() => parseIp('10.0.2'), /not an IPv4 address: "10.0.2"/);
  });
});
