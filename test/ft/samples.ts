// Sample frames shared by the ft tests: every kind, edge values included.
import type { Frame, LogEntry } from '../../src/ft/log';

export const bytes = (s: string) => new TextEncoder().encode(s);

export const SAMPLE_ENTRIES: LogEntry[] = [
  { kind: 'control', seq: 1, at: 0, op: 'start', detail: '{"guest":"kv","cmdline":"console=ttyS0"}' },
  { kind: 'input', seq: 2, at: 1234567, device: 'serial', data: bytes('PUT a') },
  { kind: 'input', seq: 3, at: 1234567, device: 'keyboard', data: Uint8Array.of(0x1c, 0x9c) },
  { kind: 'input', seq: 4, at: 2_000_000, device: 'net', data: new Uint8Array(1500).map((_, i) => i * 7) },
  { kind: 'input', seq: 5, at: 2_000_001, device: 'serial', data: new Uint8Array(0) },
  { kind: 'nondet', seq: 6, at: 2_100_000, source: 'clock', value: 1234.5678901234 },
  { kind: 'nondet', seq: 7, at: 2_100_000, source: 'random', value: -2147483648 },
  { kind: 'nondet', seq: 8, at: 2_100_000, source: 'rtc', value: 1.7e12 },
  { kind: 'epoch', seq: 9, at: 3_000_000, epoch: 3, hash: '0123456789abcdef00112233445566ff', pages: 4096 },
  { kind: 'output', seq: 10, at: 3_000_100, device: 'serial', data: bytes('OK a\r\n') },
  { kind: 'control', seq: 11, at: Number.MAX_SAFE_INTEGER, op: 'go-live', detail: 'héllo ✓' },
  { kind: 'control', seq: 12, at: Number.MAX_SAFE_INTEGER, op: 'shutdown', detail: '' },
  { kind: 'control', seq: Number.MAX_SAFE_INTEGER, at: 5, op: 'clone', detail: '{}' },
  { kind: 'end', seq: 13, at: Number.MAX_SAFE_INTEGER, how: 'closed', detail: '' },
  { kind: 'end', seq: 1, at: 0, how: 'killed', detail: 'lockstep join: kv.ftlog + kv.ftlog.host-2' },
];

export const SAMPLE_MESSAGES: Frame[] = [
  { kind: 'hello', step: 'challenge', role: 'primary', nonce: new Uint8Array(32).fill(7) },
  { kind: 'hello', step: 'response', role: 'backup', mac: new Uint8Array(32).map((_, i) => 255 - i) },
  { kind: 'ack', seq: 0, at: 0 },
  { kind: 'ack', seq: 41, at: 1_234_500 },
  { kind: 'heartbeat', seq: 41, at: 99, role: 'primary' },
  { kind: 'resend-from', seq: 12, at: 1_000 },
  { kind: 'bye', at: 77, reason: 'shutting down' },
  { kind: 'checkpoint', seq: 40, at: 100_000_123, index: 2, total: 3, data: new Uint8Array(1000).map((_, i) => i) },
  { kind: 'pages', epoch: 7, at: 70_000_001, hashes: new Uint8Array(64).fill(9) },
  { kind: 'pages', epoch: 7, at: 70_000_001, hashes: new Uint8Array(0) },
  { kind: 'released', seq: 40, at: 70_000_002 },
];

