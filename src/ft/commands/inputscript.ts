// Scripted serial input for a run: either plain bytes, fed a line at a time whenever the guest has
// read everything it was given (a rule that depends on guest state alone, so a run is repeatable),
// or lines of `@<instruction-count> <text>`, each delivered (with a newline) at the first boundary
// at or past its count. The `@` keeps them apart from guest requests that start with numbers. A file
// whose first non-blank line starts with `@` is a timed script, and then every line must be timed.
import { readFileSync } from 'node:fs';

export class InputScriptError extends Error {
  override name = 'InputScriptError';
}

interface TimedLine { at: number; data: Uint8Array }

const TIMED_LINE = /^@(\d+) (.*)$/;
const AT = 0x40;

export class InputScript {
  private constructor(private readonly timed: TimedLine[], private readonly untimed: Uint8Array[]) {}

  static fromFile(path: string): InputScript {
    let text: Buffer;
    try {
      text = readFileSync(path);
    } catch (error) {
      throw new InputScriptError(`cannot read input file ${path}: ${(error as Error).message}`);
    }
    return InputScript.parse(text, path);
  }

  static parse(bytes: Uint8Array, where = 'input'): InputScript {
    const lines = splitLines(bytes);
    const first = lines.find((line) => !isBlank(line));
    if (first && first[0] === AT) return new InputScript(parseTimed(lines, where), []);
    return new InputScript([], lines.map(withNewline).filter((l) => l.length > 0));
  }

  get done(): boolean {
    return this.timed.length === 0 && this.untimed.length === 0;
  }

  /** Input due at boundary `at`, given whether the guest has consumed all earlier input. */
  due(at: number, guestIdle: boolean): Uint8Array | undefined {
    if (this.timed.length && this.timed[0].at <= at) return this.timed.shift()!.data;
    if (this.untimed.length && guestIdle) return this.untimed.shift();
    return undefined;
  }
}

function splitLines(bytes: Uint8Array): Uint8Array[] {
  const lines: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x0a) {
      lines.push(bytes.subarray(start, i));
      start = i + 1;
    }
  }
  if (start < bytes.length) lines.push(bytes.subarray(start));
  return lines;
}

/** Empty or only spaces, tabs and CRs: skipped in a timed script, and never its first line. */
function isBlank(line: Uint8Array): boolean {
  return line.every((byte) => byte === 0x20 || byte === 0x09 || byte === 0x0d);
}

function withNewline(line: Uint8Array): Uint8Array {
  return line.length ? Buffer.concat([line, Buffer.from('\n')]) : line;
}

function parseTimed(lines: Uint8Array[], where: string): TimedLine[] {
  let previous = 0;
  const timed: TimedLine[] = [];
  lines.forEach((bytes, index) => {
    if (isBlank(bytes)) return;
    const line = Buffer.from(bytes).toString('latin1').replace(/\r$/, '');
    const match = TIMED_LINE.exec(line);
    if (!match) {
      const shown = line.length > 40 ? `${line.slice(0, 40)}...` : line;
      throw new InputScriptError(`${where}:${index + 1}: expected '@<instruction-count> <text>' (the file starts with a timed line, so every line must be one), got ${JSON.stringify(shown)}`);
    }
    const [, count, text] = match;
    const at = Number(count);
    if (!Number.isSafeInteger(at)) throw new InputScriptError(`${where}:${index + 1}: instruction count ${count} is too large`);
    if (at < previous) throw new InputScriptError(`${where}:${index + 1}: instruction count ${at} is before the previous line's ${previous}`);
    previous = at;
    timed.push({ at, data: Buffer.from(`${text}\n`, 'latin1') });
  });
  return timed;
}
