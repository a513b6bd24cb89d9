// The ftlog TextMate grammar (syntaxes/ftlog.tmLanguage.json) against the lines the text view really
// renders, tokenised by vscode-textmate with the Oniguruma regex engine, as VS Code does it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { INITIAL, parseRawGrammar, Registry, type IGrammar } from 'vscode-textmate';
import { loadWASM, OnigScanner, OnigString } from 'vscode-oniguruma';
import { parseIp, udpFrame } from '../../src/ft/workload';
import { describeEntry, LogFormatError } from '../../src/ft/log';
import { renderLog } from '../../src/extension/ftlogText';
import { FILE_ENTRIES, META } from './samples';

const GRAMMAR = join(__dirname, '../../syntaxes/ftlog.tmLanguage.json');

async function loadGrammar(): Promise<IGrammar> {
  const wasm = readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer);
  const registry = new Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (p: string[]) => new OnigScanner(p),
      createOnigString: (s: string) => new OnigString(s),
    }),
    loadGrammar: async (scope) => (scope === 'source.ftlog' ? parseRawGrammar(readFileSync(GRAMMAR, 'utf8'), GRAMMAR) : null),
  });
  const grammar = await registry.loadGrammar('source.ftlog');
  if (!grammar) throw new Error('grammar did not load');
  return grammar;
}

/** Each token's text with its innermost scope, for one line. */
function tokens(grammar: IGrammar, line: string): [string, string][] {
  const { tokens: list } = grammar.tokenizeLine(line, INITIAL);
  return list.map((t) => [line.slice(t.startIndex, t.endIndex), t.scopes.at(-1)!]);
}

function scopeOf(grammar: IGrammar, line: string, text: string): string {
  const found = tokens(grammar, line).find(([t]) => t === text);
  assert.ok(found, `no token ${JSON.stringify(text)} in ${JSON.stringify(tokens(grammar, line))}`);
  return found[1];
}

describe('ftlog grammar', () => {
  let grammar: IGrammar;
  before(async () => { grammar = await loadGrammar(); });

  const line = (i: number) => describeEntry(FILE_ENTRIES[i], { maxBytes: 48 });

  it('marks seqs, instruction numbers and entry types on every entry line', () => {
    for (const e of FILE_ENTRIES) {
      const text = describeEntry(e, { maxBytes: 48 });
      assert.equal(scopeOf(grammar, text, `#${e.seq}`), 'entity.name.tag.seq.ftlog', text);
      assert.equal(scopeOf(grammar, text, `@${e.at}`), 'constant.numeric.instruction.ftlog', text);
      assert.equal(scopeOf(grammar, text, e.kind), `keyword.other.entry.${e.kind}.ftlog`, text);
    }
  });

  it('input and output: device, size, quoted text with escapes, hex payloads, cut payloads', () => {
    const serial = line(1); // #2 @1234567 input serial 5 "PUT a"
    assert.equal(scopeOf(grammar, serial, 'serial'), 'support.type.device.ftlog');
    assert.equal(scopeOf(grammar, serial, '5'), 'constant.numeric.size.ftlog');
    assert.equal(scopeOf(grammar, serial, 'PUT a'), 'string.quoted.double.ftlog');
    const keyboard = line(2); // binary: hex
    assert.equal(scopeOf(grammar, keyboard, '0x1c9c'), 'constant.numeric.hex.payload.ftlog');
    const net = line(3); // 1500 bytes, an unknown ethertype: its header, then its body cut at 48
    assert.match(net, /\(\+1438 bytes\)$/);
    assert.equal(scopeOf(grammar, net, '... (+1438 bytes)'), 'comment.other.truncated.ftlog');
    assert.equal(scopeOf(grammar, net, 'ethertype'), 'keyword.other.protocol.ftlog');
    assert.equal(scopeOf(grammar, net, '2a:31:38:3f:46:4d'), 'constant.other.address.ftlog');
    const udp = describeEntry({ kind: 'output', seq: 12, at: 99, device: 'net', data: udpFrame({
      srcMac: Uint8Array.of(2, 0x4c, 0x53, 0, 0, 1), dstMac: Uint8Array.of(2, 0x4d, 0, 0, 0, 1), srcIp: parseIp('10.0.2.15'), dstIp: parseIp('10.0.2.2'),
      srcPort: 7070, dstPort: 40001, payload: Buffer.from('1 1 OK\n'),
    }) });
    assert.equal(udp, '#12 @99 output net 60 UDP 10.0.2.15:7070 > 10.0.2.2:40001 "1 1 OK\\n"');
    assert.equal(scopeOf(grammar, udp, 'UDP'), 'keyword.other.protocol.ftlog');
    assert.equal(scopeOf(grammar, udp, '10.0.2.2:40001'), 'constant.other.address.ftlog');
    assert.equal(scopeOf(grammar, udp, '1 1 OK'), 'string.quoted.double.ftlog');
    const output = line(9); // "OK a\r\n"
    assert.equal(scopeOf(grammar, output, '\\r'), 'constant.character.escape.ftlog');
  });

  it('nondet values, epochs with their hash and page count, control ops', () => {
    const clock = line(5);
    assert.equal(scopeOf(grammar, clock, 'clock'), 'support.type.source.ftlog');
    assert.equal(scopeOf(grammar, clock, '1234.5678901234'), 'constant.numeric.value.ftlog');
    assert.equal(scopeOf(grammar, line(6), '-2147483648'), 'constant.numeric.value.ftlog');
    assert.equal(scopeOf(grammar, line(7), '1700000000000'), 'constant.numeric.value.ftlog');
    const epoch = line(8); // #9 @3000000 epoch 3 hash=... pages=4096
    assert.equal(scopeOf(grammar, epoch, '3'), 'constant.numeric.epoch.ftlog');
    assert.equal(scopeOf(grammar, epoch, '0123456789abcdef00112233445566ff'), 'constant.other.hash.ftlog');
    assert.equal(scopeOf(grammar, epoch, '4096'), 'constant.numeric.pages.ftlog');
    const control = line(10); // go-live "héllo ✓"
    assert.equal(scopeOf(grammar, control, 'go-live'), 'keyword.control.op.ftlog');
    assert.equal(scopeOf(grammar, control, 'héllo ✓'), 'string.quoted.double.ftlog');
    assert.equal(scopeOf(grammar, line(0), 'start'), 'keyword.control.op.ftlog');
  });

  it('header lines are comments and the damage message stands out', () => {
    const damaged = renderLog('x.ftlog', META, FILE_ENTRIES.slice(0, 2), new LogFormatError('truncated', 'truncated frame', 4242));
    const lines = damaged.text.trimEnd().split('\n');
    for (const l of lines.filter((l) => l.startsWith('//') && !l.includes('ERROR'))) {
      assert.deepEqual(tokens(grammar, l).map(([, s]) => s), ['comment.line.double-slash.ftlog'], l);
    }
    const error = lines[damaged.errorLine!];
    assert.equal(scopeOf(grammar, error, 'ERROR at byte '), 'invalid.illegal.damaged.ftlog');
    assert.equal(scopeOf(grammar, error, '4242'), 'constant.numeric.offset.ftlog');
  });
});
