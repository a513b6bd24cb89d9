import { strict as assert } from 'node:assert';
import { entryNote, outputNote } from '../../../src/ft/debug';
import type { LogEntry, OutputEntry } from '../../../src/ft/log';
import { tcpFrame } from '../../support/frames';

describe('panel notes (src/ft/debug/panelstream.ts)', () => {
  it('shows a net input and a held net output decoded: TCP ends, flags, numbers, length', () => {
    const input: LogEntry = { kind: 'input', seq: 7, at: 1000, device: 'net', data: tcpFrame(0x10, 78, 1001, '') };
    assert.match(entryNote(input).text, /TCP 10\.0\.2\.15:80 > 10\.0\.2\.1:41234 \[\.\] seq 78 ack 1001 win 64240 len 0$/);
    const output: OutputEntry = { kind: 'output', seq: 8, at: 2000, device: 'net', data: tcpFrame(0x18, 1001, 78, 'HTTP/1.1 200 OK\r\n') };
    assert.deepEqual(outputNote(output, 'held'), {
      seq: 8, at: 2000, state: 'held', text: 'TCP 10.0.2.15:80 > 10.0.2.1:41234 [P.] seq 1001 ack 78 win 64240 len 17 HTTP/1.1 200 OK\r\n',
    });
  });
});
