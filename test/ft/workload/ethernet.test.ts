import { strict as assert } from 'node:assert';
import { arpFrame, describeFrame, internetChecksum, parseFrame, parseIp, udpFrame, type UdpDatagram } from '../../../src/ft/workload';
import { renderBytes } from '../../../src/ft/log';
import { tcpFrame } from '../../support/frames';

import { CLIENT_MAC, GUEST_MAC } from '../../support/frames';
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

  it('reads TCP segments as tcpdump shows them: ends, flags, absolute sequence numbers, window, length', () => {
    const synAck = tcpFrame(0x12, 4_000_000_000, 77, '', 12);
    assert.deepEqual({ ...parseFrame(synAck)?.tcp, srcIp: undefined, dstIp: undefined, payload: undefined }, {
      srcIp: undefined, dstIp: undefined, srcPort: 80, dstPort: 41234, seq: 4_000_000_000, ack: 77, flags: 'S.', window: 64240, payload: undefined,
    });
    assert.equal(show(synAck), 'TCP 10.0.2.15:80 > 10.0.2.1:41234 [S.] seq 4000000000 ack 77 win 64240 len 0');
    assert.equal(show(tcpFrame(0x18, 1, 78, '00000000\n')), 'TCP 10.0.2.15:80 > 10.0.2.1:41234 [P.] seq 1 ack 78 win 64240 len 9 "00000000\\n"');
    assert.equal(show(tcpFrame(0x04, 9, 0, '')), 'TCP 10.0.2.15:80 > 10.0.2.1:41234 [R] seq 9 ack 0 win 64240 len 0');
    const badOffset = tcpFrame(0x11, 5, 6, '');
    badOffset[46] = 0x10; // a data offset of 4 bytes: shorter than a TCP header
    assert.equal(parseFrame(badOffset)?.tcp, undefined);
    assert.match(show(badOffset), /^IPv4 protocol 6 /);
  });

  it('describes frames it does not understand by their header and bytes, and runts by their size', () => {
    const frame = Uint8Array.of(...GUEST_MAC, ...CLIENT_MAC, 0x86, 0xdd, 0xde, 0xad);
    assert.equal(show(frame), 'ethertype 0x86dd 02:4d:00:00:00:07 > 02:4c:53:00:00:01 0xdead');
    assert.equal(show(new Uint8Array(13)), 'runt frame (13 bytes)');
    assert.throws(() => parseIp('10.0.2'), /not an IPv4 address: "10.0.2"/);
  });
});
