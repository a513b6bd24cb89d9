// Scripted serial input for a run: either plain bytes, fed a line at a time whenever the guest has
// read everything it was given (a rule that depends on guest state alone, so a run is repeatable),
// or lines of `@<instruction-count> <text>`, each delivered (with a newline) at the first boundary
// at or past its count. The `@` keeps them apart from guest requests that start with numbers.
import { readFileSync } from 'node:fs';

export class InputScriptError extends Error {
  override name = 'InputScriptError';
}

interface TimedLine { at: number; data: Uint8Array }

const TIMED_LINE = /^@(\d+) (.*)$/;

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
    const nonEmpty = lines.filter((line) => line.length > 0);
    const textLines = nonEmpty.map((line) => Buffer.from(line).toString('latin1'));
    if (nonEmpty.length && textLines.every((line) => TIMED_LINE.test(line))) {
      return new InputScript(parseTimed(textLines, where), []);
    }
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

function withNewline(line: Uint8Array): Uint8Array {
  return line.length ? Buffer.concat([line, Buffer.from('\n')]) : line;
}

function parseTimed(lines: string[], where: string): TimedLine[] {
  let previous = 0;
  return lines.map((line, index) => {
    const [, count, text] = TIMED_LINE.exec(line)!;
    const at = Number(count);
    if (!Number.isSafeInteger(at)) throw new InputScriptError(`${where}:${index + 1}: instruction count ${count} is too large`);
    if (at < previous) throw new InputScriptError(`${where}:${index + 1}: instruction count ${at} is before the previous line's ${previous}`);
    previous = at;
    return { at, data: Buffer.from(`${text}\n`, 'latin1') };
  });
}
