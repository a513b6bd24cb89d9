// A guard between a DAP client's bytes and the session. @vscode/debugadapter's parser ends the
// session on a body that is not a JSON object, and wedges for good on a header whose Content-Length
// is not a number; this stream hands it only well-formed messages, and reports the rest.
import { Transform, TransformCallback } from 'node:stream';

const MARK = Buffer.from('Content-Length:');
const END = Buffer.from('\r\n\r\n');
/** A header line naming a length, then CRLF: never inside a JSON text (no raw CR in a string). */
const INNER_HEADER = /Content-Length:[ \t]*\d+\r\n/;
/** ignoreBOM keeps a BOM in the text, so JSON.parse refuses it as the library would. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface FramingLimits {
  /** A header without its CRLFCRLF within this many bytes is garbage (default 8 KiB). */
  maxHeaderBytes?: number;
  /** A longer message is refused and its bytes skipped, never buffered (default 64 MiB). */
  maxBodyBytes?: number;
}

/**
 * Reads raw DAP input and writes each well-formed message (a header with `Content-Length: <digits>`,
 * other header lines ignored, CRLFCRLF, that many bytes of UTF-8 JSON whose value is an object) as
 * `Content-Length: n\r\n\r\n<body>`, body bytes unchanged. Anything else is skipped and `report`ed,
 * and reading goes on at the next `Content-Length:` header.
 */
export class DapFraming extends Transform {
  private readonly maxHeader: number;
  private readonly maxBody: number;
  private buf: Buffer = Buffer.alloc(0);
  /** The body length being waited for; -1 while reading a header. */
  private body = -1;
  /** Bytes still to drop of a refused (oversize) message. */
  private discard = 0;
  /** Bytes dropped so far while looking for the next header; -1 when not looking. */
  private garbage = -1;

  constructor(private readonly report: (message: string) => void, limits: FramingLimits = {}) {
    super();
    // At least room for a header line, so a kept tail never holds a whole `Content-Length:`.
    this.maxHeader = Math.max(limits.maxHeaderBytes ?? 8 * 1024, 64);
    this.maxBody = limits.maxBodyBytes ?? 64 * 1024 * 1024;
  }

  /** Bytes held while waiting for the rest of a header or body (bounded by the limits). */
  get bufferedBytes(): number {
    return this.buf.length;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.step());
    done();
  }

  override _flush(done: TransformCallback): void {
    const left = this.buf.length + Math.max(this.garbage, 0);
    if (left > 0) this.report(`skipped ${left} bytes at the end of the input: not a whole DAP message`);
    done();
  }

  /** One step of parsing; false when it needs more bytes. */
  private step(): boolean {
    if (this.discard > 0) {
      const n = Math.min(this.discard, this.buf.length);
      this.advance(n);
      this.discard -= n;
      return this.discard === 0;
    }
    if (this.garbage >= 0) return this.resync();
    if (this.body < 0) return this.header();
    if (this.buf.length < this.body) return false;
    this.message();
    return true;
  }

  private header(): boolean {
    const end = this.buf.indexOf(END);
    const size = end < 0 ? this.buf.length : end;
    if (end < 0 && size <= this.maxHeader) return false;
    if (size > this.maxHeader) {
      this.report(`skipped a DAP message: its header is longer than ${this.maxHeader} bytes`);
      // As if the bytes had come one at a time: keep a tail that may be the start of a header.
      return this.lose(this.maxHeader + 1 - (MARK.length - 1));
    }
    const text = this.buf.toString('latin1', 0, size);
    const field = /(?:^|\r\n)Content-Length:([^\r\n]*)/.exec(text);
    if (!field) {
      // Bytes before a header that does not start a line (say, the tail of a message whose
      // Content-Length was too small) are not a message of their own.
      const at = text.indexOf('Content-Length:', 1);
      if (at > 0) {
        this.advance(at);
        this.report(`skipped ${at} bytes before a Content-Length header`);
        return true;
      }
      this.report(`skipped a DAP message: its header has no Content-Length (${JSON.stringify(text.slice(0, 60))})`);
      return this.lose(end + END.length);
    }
    this.advance(end + END.length);
    const value = field[1].trim();
    if (!/^\d+$/.test(value)) {
      this.report(`skipped a DAP message: its Content-Length ${JSON.stringify(value)} is not a byte count`);
      return this.lose(0); // its body has no known end
    }
    const length = Number(value);
    if (length > this.maxBody) {
      this.report(`skipped a DAP message: its Content-Length ${value} is over the limit of ${this.maxBody} bytes`);
      this.discard = length;
    } else {
      this.body = length;
    }
    return true;
  }

  private message(): void {
    const length = this.body;
    const bytes = this.buf.subarray(0, length);
    this.body = -1;
    const problem = notAnObject(bytes);
    if (!problem) {
      this.push(Buffer.concat([Buffer.from(`Content-Length: ${length}\r\n\r\n`), bytes]));
      return this.advance(length);
    }
    // A header inside a bad body: its Content-Length was too large and took in the next message.
    const inner = INNER_HEADER.exec(bytes.toString('latin1'));
    if (inner) {
      this.report(`skipped a DAP message: its Content-Length says ${length} bytes, but another message's header begins after ${inner.index}`);
      return this.advance(inner.index);
    }
    this.report(`skipped a DAP message of ${length} bytes: ${problem}`);
    this.advance(length);
  }

  /** Drops bytes up to the next `Content-Length:`; false when there is none yet. */
  private resync(): boolean {
    const at = this.buf.indexOf(MARK);
    // Without one, keep a tail that may be the start of one.
    const skip = at >= 0 ? at : Math.max(0, this.buf.length - (MARK.length - 1));
    this.garbage += skip;
    this.advance(skip);
    if (at < 0) return false;
    if (this.garbage > 0) this.report(`skipped ${this.garbage} bytes before a Content-Length header`);
    this.garbage = -1;
    return true;
  }

  /** Drops `n` bytes and looks for the next header. */
  private lose(n: number): boolean {
    this.advance(n);
    this.garbage = 0;
    return true;
  }

  private advance(n: number): void {
    this.buf = this.buf.subarray(n);
  }
}

/** Why a body is not a DAP message (UTF-8 JSON of an object), or undefined when it is one. */
function notAnObject(bytes: Uint8Array): string | undefined {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return 'not UTF-8';
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not JSON (${(error as Error).message})`;
  }
  if (value === null) return 'null, not a JSON object';
  if (Array.isArray(value)) return 'an array, not a JSON object';
  if (typeof value !== 'object') return `a ${typeof value}, not a JSON object`;
  return undefined;
}
