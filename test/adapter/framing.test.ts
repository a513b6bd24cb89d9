// The framing guard in front of the debug adapter (src/adapter/framing.ts): well-formed DAP
// messages pass unchanged, malformed ones are reported and skipped, and the session keeps serving.
// First the guard on its own, then the real adapter (`lockstep dap` on stdio and on --port).
import { strict as assert } from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Socket, createConnection } from 'node:net';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { DapFraming, FramingLimits } from '../../src/adapter/framing';
import { until } from '../support/cluster';

const REPO = join(__dirname, '..', '..');

function frame(body: string | Buffer, header?: string): Buffer {
  const bytes = Buffer.from(body);
  return Buffer.concat([Buffer.from(header ?? `Content-Length: ${bytes.length}\r\n\r\n`), bytes]);
}

const GOOD = '{"seq":7,"type":"request","command":"threads"}';

/** Splits well-formed output (`Content-Length: n\r\n\r\n` + n bytes, nothing else) into bodies. */
function bodies(output: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < output.length;) {
    const end = output.indexOf('\r\n\r\n', at);
    const header = output.toString('latin1', at, end);
    const match = /^Content-Length: (\d+)$/.exec(header);
    assert.ok(match, `output header ${JSON.stringify(header)}`);
    const length = Number(match[1]);
    out.push(output.subarray(end + 4, end + 4 + length));
    at = end + 4 + length;
    assert.ok(at <= output.length, 'a whole body');
  }
  return out;
}

/** Writes `chunks` through a guard; resolves with the bodies it passed on and what it reported. */
async function guard(
  chunks: Buffer[],
  limits?: FramingLimits,
  watch?: (g: DapFraming) => void,
): Promise<{ bodies: string[]; raw: Buffer[]; reports: string[] }> {
  const reports: string[] = [];
  const g = new DapFraming((message) => reports.push(message), limits);
  const output: Buffer[] = [];
  g.on('data', (chunk: Buffer) => output.push(chunk));
  const ended = new Promise<void>((resolve, reject) => g.on('end', resolve).on('error', reject));
  for (const chunk of chunks) {
    g.write(chunk);
    watch?.(g);
  }
  g.end();
  await ended;
  const raw = bodies(Buffer.concat(output));
  return { bodies: raw.map((b) => b.toString('utf8')), raw, reports };
}

function bytewise(data: Buffer): Buffer[] {
  return [...data].map((byte) => Buffer.from([byte]));
}

describe('DAP framing guard', () => {
  describe('well-formed messages', () => {
    const messages = [
      Buffer.from('{"seq":1,"type":"request","command":"initialize","arguments":{"adapterID":"lockstep"}}'),
      Buffer.from('{"seq":2,"type":"request","command":"evaluate","arguments":{"expression":"héllo ✓ \\u0000 𝄞"}}'),
      Buffer.from('{}'),
    ];
    const stream = Buffer.concat([
      frame(messages[0]),
      // Other header fields are allowed (and ignored), and so is space around the value.
      frame(messages[1], `Content-Type: application/vscode-jsonrpc; charset=utf-8\r\nContent-Length:   ${messages[1].length} \r\n\r\n`),
      frame(messages[2], `Content-Length:${messages[2].length}\r\nX-Other: 1\r\n\r\n`),
    ]);

    it('pass with their bodies byte-identical, nothing reported', async () => {
      const { raw, reports } = await guard([stream]);
      assert.deepEqual(raw, messages);
      assert.deepEqual(reports, []);
    });

    it('pass when the bytes come one at a time', async () => {
      const { raw, reports } = await guard(bytewise(stream));
      assert.deepEqual(raw, messages);
      assert.deepEqual(reports, []);
    });

    it('pass when they come in odd-sized chunks across headers and bodies', async () => {
      const chunks: Buffer[] = [];
      for (let at = 0, size = 1; at < stream.length; at += size, size = (size * 7) % 23 + 1) {
        chunks.push(stream.subarray(at, at + size));
      }
      const { raw } = await guard(chunks);
      assert.deepEqual(raw, messages);
    });

    it('a body of exactly the maximum length passes', async () => {
      const body = `{"pad":"${'x'.repeat(100 - 10)}"}`;
      assert.equal(body.length, 100);
      const { bodies: out, reports } = await guard([frame(body)], { maxBodyBytes: 100 });
      assert.deepEqual(out, [body]);
      assert.deepEqual(reports, []);
    });
  });

  describe('malformed messages are reported and skipped; the next good one comes through', () => {
    const cases: [string, Buffer, RegExp[]][] = [
      ['a body that is not JSON', frame('garbage'), [/^skipped a DAP message of 7 bytes: not JSON \(Unexpected token/]],
      ['the JSON null', frame('null'), [/^skipped a DAP message of 4 bytes: null, not a JSON object$/]],
      ['a JSON array', frame('[{"seq":1}]'), [/^skipped a DAP message of 11 bytes: an array, not a JSON object$/]],
      ['a JSON number', frame('42'), [/^skipped a DAP message of 2 bytes: a number, not a JSON object$/]],
      ['a JSON string', frame('"initialize"'), [/^skipped a DAP message of 12 bytes: a string, not a JSON object$/]],
      ['truncated JSON', frame('{"seq":1,"type":"req'), [/^skipped a DAP message of 20 bytes: not JSON \(/]],
      ['an empty body', frame(''), [/^skipped a DAP message of 0 bytes: not JSON/]],
      ['a body that is not UTF-8', frame(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])), [/^skipped a DAP message of 8 bytes: not UTF-8$/]],
      // The library would read the BOM into JSON.parse, fail, and end the session.
      ['a body with a byte-order mark', frame(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{}')])), [/^skipped a DAP message of 5 bytes: not JSON/]],
      ['a Content-Length that is not a number', frame('{"seq":1}', 'Content-Length: abc\r\n\r\n'), [/^skipped a DAP message: its Content-Length "abc" is not a byte count$/, /^skipped 9 bytes before a Content-Length header$/]],
      ['a negative Content-Length', frame('{"seq":1}', 'Content-Length: -9\r\n\r\n'), [/its Content-Length "-9" is not a byte count/, /^skipped 9 bytes before/]],
      ['a fractional Content-Length', frame('{"seq":1}', 'Content-Length: 9.0\r\n\r\n'), [/its Content-Length "9.0" is not a byte count/, /^skipped 9 bytes before/]],
      ['an empty Content-Length', frame('{"seq":1}', 'Content-Length:\r\n\r\n'), [/its Content-Length "" is not a byte count/, /^skipped 9 bytes before/]],
      ['no Content-Length', frame('{"seq":1}', 'Content-Type: application/json\r\n\r\n'), [/^skipped a DAP message: its header has no Content-Length \("Content-Type: application\/json"\)$/, /^skipped 9 bytes before/]],
      ['garbage before a header', Buffer.from('hello, world'), [/^skipped 12 bytes before a Content-Length header$/]],
      ['a blank line before a header', Buffer.from('\r\n\r\n'), [/^skipped a DAP message: its header has no Content-Length \(""\)$/]],
      // Too small: the rest of the body is garbage before the next header.
      ['a Content-Length too small for its body', frame('{"seq":1}', 'Content-Length: 5\r\n\r\n'), [/^skipped a DAP message of 5 bytes: not JSON/, /^skipped 4 bytes before a Content-Length header$/]],
      // Too large: the body runs into the next message, whose header is found inside it.
      ['a Content-Length too large for its body', frame('{"seq":1}', 'Content-Length: 40\r\n\r\n'), [/^skipped a DAP message: its Content-Length says 40 bytes, but another message's header begins after 9$/]],
    ];
    for (const [what, bad, expected] of cases) {
      for (const chunking of ['one chunk', 'a byte at a time'] as const) {
        it(`${what} (${chunking})`, async () => {
          const data = Buffer.concat([bad, frame(GOOD)]);
          const { bodies: out, reports } = await guard(chunking === 'one chunk' ? [data] : bytewise(data));
          assert.deepEqual(out, [GOOD]);
          assert.equal(reports.length, expected.length, reports.join('\n'));
          expected.forEach((pattern, i) => assert.match(reports[i], pattern));
        });
      }
    }

    it('many bad and good messages in one chunk: the good ones, in order', async () => {
      const good = (n: number) => `{"seq":${n},"type":"request","command":"threads"}`;
      const data = Buffer.concat([frame(good(1)), frame('null'), frame(good(2)), Buffer.from('junk'), frame(good(3)), frame('x', 'Content-Length: x\r\n\r\n'), frame(good(4))]);
      const { bodies: out, reports } = await guard([data]);
      assert.deepEqual(out, [good(1), good(2), good(3), good(4)]);
      assert.equal(reports.length, 4, reports.join('\n'));
    });

    it('input that ends inside a message is reported', async () => {
      const { bodies: out, reports } = await guard([frame(GOOD), Buffer.from('Content-Length: 10\r\n\r\n{"a"')]);
      assert.deepEqual(out, [GOOD]);
      assert.deepEqual(reports, ['skipped 4 bytes at the end of the input: not a whole DAP message']);
    });
  });

  describe('bounds: garbage cannot grow memory', () => {
    it('a header longer than 8 KiB is refused; what follows is read', async () => {
      const data = Buffer.concat([Buffer.from(`Content-Length: 2${' '.repeat(9000)}`), frame(GOOD)]);
      for (const chunks of [[data], bytewise(data)]) {
        let most = 0;
        const { bodies: out, reports } = await guard(
          chunks,
          undefined,
          (g) => (most = Math.max(most, g.bufferedBytes)),
        );
        assert.deepEqual(out, [GOOD]);
        assert.equal(reports[0], 'skipped a DAP message: its header is longer than 8192 bytes');
        assert.match(reports[1], /^skipped \d+ bytes before a Content-Length header$/);
        assert.equal(reports.length, 2);
        assert.ok(most <= 8192 + chunks[0].length, `held at most ${most} bytes`);
      }
    });

    it('a long header still ending in CRLFCRLF over the limit is refused too', async () => {
      const data = Buffer.concat([frame('{}', `X-Pad: ${'p'.repeat(9000)}\r\nX-Other: 1\r\n\r\n`), frame(GOOD)]);
      const { bodies: out, reports } = await guard([data]);
      assert.deepEqual(out, [GOOD]);
      assert.deepEqual(reports.slice(0, 1), ['skipped a DAP message: its header is longer than 8192 bytes']);
    });

    it('megabytes of garbage are counted, not held', async () => {
      const junk = Buffer.alloc(64 * 1024, 'x');
      const chunks = [...Array.from({ length: 64 }, () => junk), frame(GOOD)];
      let most = 0;
      const { bodies: out, reports } = await guard(chunks, undefined, (g) => (most = Math.max(most, g.bufferedBytes)));
      assert.deepEqual(out, [GOOD]);
      assert.equal(reports[0], 'skipped a DAP message: its header is longer than 8192 bytes');
      assert.match(reports[1], /^skipped \d+ bytes before a Content-Length header$/);
      assert.ok(most <= 8192 + junk.length, `held at most ${most} bytes`);
    });

    it('a Content-Length over 64 MiB is refused and its bytes skipped, never held', async () => {
      const length = 64 * 1024 * 1024 + 1;
      // The refused body holds what looks like a message: skipping goes by its length, not by headers.
      const mib = Buffer.alloc(1024 * 1024, ' ');
      frame('{"seq":99}').copy(mib, 100);
      const chunks = [Buffer.from(`Content-Length: ${length}\r\n\r\n`), ...Array.from({ length: 64 }, () => mib), Buffer.from(' '), frame(GOOD)];
      let most = 0;
      const { bodies: out, reports } = await guard(chunks, undefined, (g) => (most = Math.max(most, g.bufferedBytes)));
      assert.deepEqual(out, [GOOD]);
      assert.deepEqual(reports, [`skipped a DAP message: its Content-Length ${length} is over the limit of 67108864 bytes`]);
      assert.ok(most <= mib.length, `held at most ${most} bytes`);
    });

    it('one byte over a smaller limit, a byte at a time', async () => {
      const body = `{"pad":"${'x'.repeat(101 - 10)}"}`;
      const { bodies: out, reports } = await guard(
        bytewise(Buffer.concat([frame(body), frame(GOOD)])),
        { maxBodyBytes: 100 },
      );
      assert.deepEqual(out, [GOOD]);
      assert.deepEqual(reports, ['skipped a DAP message: its Content-Length 101 is over the limit of 100 bytes']);
    });
  });
});

// ---- the real adapter ----

interface Message {
  seq: number;
  type: string;
  command?: string;
  event?: string;
  request_seq?: number;
  success?: boolean;
  message?: string;
  body?: { reason?: string; category?: string; output?: string };
}

/** A DAP client that can also write raw bytes, reading the adapter's output with its own parser. */
class RawClient {
  readonly messages: Message[] = [];
  private seq = 1;
  private data = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(private readonly input: Writable, output: Readable) {
    output.on('data', (chunk: Buffer) => {
      this.data = Buffer.concat([this.data, chunk]);
      for (;;) {
        const end = this.data.indexOf('\r\n\r\n');
        const length = end < 0 ? NaN : Number(/Content-Length: (\d+)/.exec(this.data.toString('latin1', 0, end))?.[1]);
        if (!(this.data.length >= end + 4 + length)) break;
        this.messages.push(JSON.parse(this.data.toString('utf8', end + 4, end + 4 + length)));
        this.data = this.data.subarray(end + 4 + length);
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
    output.on('close', () => {
      this.closed = true;
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  raw(bytes: string | Buffer): void {
    this.input.write(bytes);
  }

  /** Resolves with the first message (seen or to come) that `test` accepts. */
  async waitFor(test: (m: Message) => boolean, what: string, timeoutMs = 60_000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(test);
      if (found) return found;
      if (this.closed) throw new Error(`no ${what}: the adapter closed the connection`);
      if (Date.now() > deadline) throw new Error(`no ${what}; got ${JSON.stringify(this.messages.map((m) => m.command ?? m.event))}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 1000);
      });
    }
  }

  async request(command: string, args?: object): Promise<Message> {
    const seq = this.seq++;
    this.raw(frame(JSON.stringify({ seq, type: 'request', command, arguments: args })));
    return this.waitFor((m) => m.type === 'response' && m.request_seq === seq, `response to ${command}`);
  }

  /** The Debug Console lines the adapter reported skipped input with. */
  skipped(): string[] {
    return this.messages.filter((m) => m.event === 'output' && m.body?.category === 'stderr' && /^skipped/.test(m.body.output ?? '')).map((m) => m.body!.output!);
  }
}

/** The pids of `pid`'s child processes running `lockstep host`. */
function hosts(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The field after the parenthesised name: state, then the parent's pid.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes('host')) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** `lockstep dap` from source, or from the build (dist/cli.js, which loads the adapter from dist/dap.js). */
interface Adapter { child: ChildProcess; stderr: () => string; exited: Promise<number | null> }

function startAdapter(args: string[], fromBuild = false): Adapter {
  const cli = fromBuild ? [join(REPO, 'dist', 'cli.js')] : ['--import', 'tsx', 'src/cli.ts'];
  const child = spawn(process.execPath, [...cli, 'dap', ...args], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stderr: () => stderr, exited };
}

/** initialize, two malformed messages, launch: the launch works and both are reported. */
async function throughGarbage(client: RawClient, launch: object): Promise<void> {
  const init = await client.request('initialize', { adapterID: 'lockstep', clientID: 'framing-test' });
  assert.equal(init.success, true);
  client.raw(frame('garbage'));
  client.raw(frame('{"seq":50,"type":"request","command":"threads"}', 'Content-Length: abc\r\n\r\n'));
  const launched = client.request('launch', launch);
  const initialized = client.waitFor((m) => m.event === 'initialized', 'initialized event');
  assert.equal((await launched).success, true, (await launched).message);
  await initialized;
  assert.equal((await client.request('configurationDone')).success, true);
  const stopped = await client.waitFor((m) => m.event === 'stopped', 'stopped event');
  assert.equal(stopped.body?.reason, 'entry');
  const threads = await client.request('threads');
  assert.equal(threads.success, true);
  // The frame under "Content-Length: abc" was never read as a request.
  assert.ok(!client.messages.some((m) => m.request_seq === 50), 'no answer to the skipped request');
  assert.deepEqual(client.skipped().map((line) => line.replace(/\(Unexpected token.*\)/, '(…)')), [
    'skipped a DAP message of 7 bytes: not JSON (…)\n',
    'skipped a DAP message: its Content-Length "abc" is not a byte count\n',
    // Its body, up to launch's header.
    'skipped 47 bytes before a Content-Length header\n',
  ]);
}

describe('debug adapter behind the framing guard (real adapter)', function () {
  this.timeout(120_000);

  it('over stdio: malformed messages are reported, launch still works, disconnect ends it cleanly', async () => {
    const adapter = startAdapter([]);
    try {
      const client = new RawClient(adapter.child.stdin!, adapter.child.stdout!);
      await throughGarbage(client, { guest: 'spin', mode: 'single', stopOnEntry: true });
      assert.match(adapter.stderr(), /^lockstep dap: skipped a DAP message of 7 bytes: not JSON \(/m);
      assert.match(adapter.stderr(), /^lockstep dap: skipped a DAP message: its Content-Length "abc" is not a byte count$/m);
      assert.equal((await client.request('disconnect')).success, true);
      assert.equal(await adapter.exited, 0);
    } finally {
      adapter.child.kill();
    }
  });

  it('from the build: dist/cli.js loads the adapter from dist/dap.js, and its disassembler works', async () => {
    const adapter = startAdapter([], true);
    try {
      const client = new RawClient(adapter.child.stdin!, adapter.child.stdout!);
      await throughGarbage(client, { guest: 'spin', mode: 'single', stopOnEntry: true });
      const threads = (await client.request('threads')) as Message & { body: { threads: { id: number }[] } };
      const trace = (await client.request('stackTrace', { threadId: threads.body.threads[0].id })) as Message & {
        body: { stackFrames: { instructionPointerReference?: string }[] };
      };
      const memoryReference = trace.body.stackFrames[0].instructionPointerReference;
      assert.ok(memoryReference, 'the top frame has an instruction pointer reference');
      const listing = (await client.request('disassemble', { memoryReference, instructionCount: 4 })) as Message & {
        body?: { instructions: { instruction: string }[] };
      };
      assert.equal(listing.success, true, listing.message);
      assert.equal(listing.body!.instructions.length, 4);
      assert.ok(listing.body!.instructions.every((i) => i.instruction.length > 0), JSON.stringify(listing.body));
      assert.equal((await client.request('disconnect')).success, true);
      assert.equal(await adapter.exited, 0);
    } finally {
      adapter.child.kill();
    }
  });

  it('over --port: an FT pair launches through the same garbage; disconnect leaves no host process', async () => {
    const adapter = startAdapter(['--port', '0']);
    let socket: Socket | undefined;
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const poll = setInterval(() => {
          const match = /listening on 127\.0\.0\.1:(\d+)/.exec(adapter.stderr());
          if (!match) return;
          clearInterval(poll);
          resolve(Number(match[1]));
        }, 50);
        void adapter.exited.then((code) => (clearInterval(poll), reject(new Error(`adapter exited ${code}: ${adapter.stderr()}`))));
      });
      socket = await new Promise<Socket>((resolve, reject) => {
        const s = createConnection(port, '127.0.0.1', () => resolve(s)).once('error', reject);
      });
      const client = new RawClient(socket, socket);
      await throughGarbage(client, { guest: 'spin', stopOnEntry: true });
      assert.equal(hosts(adapter.child.pid!).length, 2, 'a primary and a backup host');
      assert.equal((await client.request('disconnect')).success, true);
      await until(() => hosts(adapter.child.pid!).length === 0, 'the hosts to exit after disconnect', 20_000);
      assert.deepEqual(hosts(adapter.child.pid!), [], 'no host process left');
      // The adapter hangs up on a session that has ended (the client sees the connection end).
      const ended = socket;
      if (!ended.readableEnded) await new Promise((resolve) => ended.once('end', resolve));
      // The server goes on serving: a second connection gets a session.
      socket.destroy();
      socket = await new Promise<Socket>((resolve, reject) => {
        const s = createConnection(port, '127.0.0.1', () => resolve(s)).once('error', reject);
      });
      assert.equal((await new RawClient(socket, socket).request('initialize', { adapterID: 'lockstep' })).success, true);
    } finally {
      socket?.destroy();
      adapter.child.kill();
      await adapter.exited;
    }
  });
});
