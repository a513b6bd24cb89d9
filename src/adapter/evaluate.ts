// Expressions of the debug console, watches and hovers: registers (eax, ax, al, eip, eflags, cs,
// cr0, ...), numbers (42, 0x2a, 2ah), + - * and parentheses, and memory: `[expr]` (a dword),
// `byte [esi+4]`, `word ptr [x]`, `dword [esp]`, `qword [ebx]`. Addresses are linear, as EIP is.
import type { Registers } from '../ft/machine';

export type Size = 1 | 2 | 4 | 8;

type Node =
  | { kind: 'number'; value: bigint }
  | { kind: 'register'; name: string }
  | { kind: 'memory'; size: Size; address: Node }
  | { kind: 'negate'; operand: Node }
  | { kind: 'binary'; op: '+' | '-' | '*'; left: Node; right: Node };

export interface Evaluation {
  value: bigint;
  /** Bytes the value has: a register's width, a memory operand's size, 4 for plain numbers. */
  size: Size;
  /** The linear address a memory operand read. */
  address?: number;
}

export interface EvaluationContext {
  registers: Registers;
  /** Reads `size` bytes of linear memory; fails for memory that cannot be read. */
  read(address: number, size: Size): Promise<Uint8Array>;
}

export class ExpressionError extends Error {
  override name = 'ExpressionError';
}

const SIZES: Record<string, Size> = { byte: 1, word: 2, dword: 4, qword: 8 };
/** Longer expressions than a person types are refused (evaluation recurses over the tree). */
const MAX_LENGTH = 1000;
const MAX_NESTING = 64;
const MASK64 = (1n << 64n) - 1n;
const GENERAL = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'] as const;
const LOW16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
const LOW8 = ['al', 'cl', 'dl', 'bl'];
const HIGH8 = ['ah', 'ch', 'dh', 'bh'];
const WIDE = ['eip', 'eflags', 'cr0', 'cr2', 'cr3', 'cr4'] as const;
const SEGMENTS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs'] as const;

/** The register `name` (any case) as a value and its width, or undefined when there is none. */
export function registerValue(registers: Registers, name: string): { value: number; size: Size } | undefined {
  const n = name.toLowerCase();
  if ((GENERAL as readonly string[]).includes(n) || (WIDE as readonly string[]).includes(n)) {
    return { value: registers[n as keyof Registers] >>> 0, size: 4 };
  }
  if ((SEGMENTS as readonly string[]).includes(n)) return { value: registers[n as keyof Registers], size: 2 };
  const i16 = LOW16.indexOf(n);
  if (i16 >= 0) return { value: registers[GENERAL[i16]] & 0xffff, size: 2 };
  const i8 = LOW8.indexOf(n);
  if (i8 >= 0) return { value: registers[GENERAL[i8]] & 0xff, size: 1 };
  const h8 = HIGH8.indexOf(n);
  if (h8 >= 0) return { value: (registers[GENERAL[h8]] >>> 8) & 0xff, size: 1 };
  return undefined;
}

// ---- parsing ----

const TOKEN = /\s*(?:(0x[0-9a-f]+|[0-9][0-9a-f]*h|\d+)|([a-z_][a-z0-9_]*)|([-+*()[\]]))/iy;

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < text.length) {
    if (/^\s*$/.test(text.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const match = TOKEN.exec(text);
    if (!match) throw new ExpressionError(`cannot read '${text.slice(at).trim()}' in '${text}'`);
    tokens.push(match[1] ?? match[2] ?? match[3]);
  }
  return tokens;
}

function parseNumber(token: string): bigint {
  const lower = token.toLowerCase();
  if (!/^0x|h$|^\d+$/.test(lower)) throw new ExpressionError(`'${token}' is not a number (hexadecimal needs 0x or a trailing h)`);
  const value = BigInt(lower.endsWith('h') ? `0x${lower.slice(0, -1)}` : lower);
  if (value > MASK64) throw new ExpressionError(`${token} does not fit in 64 bits`);
  return value;
}

class Parser {
  private index = 0;
  private depth = 0;

  constructor(private readonly tokens: string[], private readonly text: string) {}

  parse(): Node {
    if (!this.tokens.length) throw new ExpressionError('empty expression');
    const node = this.sum();
    if (this.index < this.tokens.length) throw new ExpressionError(`unexpected '${this.tokens[this.index]}' in '${this.text}'`);
    return node;
  }

  private peek(): string | undefined {
    return this.tokens[this.index];
  }

  private take(expected?: string): string {
    const token = this.tokens[this.index++];
    if (token === undefined) throw new ExpressionError(`'${this.text}' ends early${expected ? `: expected '${expected}'` : ''}`);
    if (expected && token !== expected) throw new ExpressionError(`expected '${expected}' but found '${token}' in '${this.text}'`);
    return token;
  }

  private sum(): Node {
    let node = this.product();
    while (this.peek() === '+' || this.peek() === '-') node = { kind: 'binary', op: this.take() as '+' | '-', left: node, right: this.product() };
    return node;
  }

  private product(): Node {
    let node = this.unary();
    while (this.peek() === '*') {
      this.take();
      node = { kind: 'binary', op: '*', left: node, right: this.unary() };
    }
    return node;
  }

  private unary(): Node {
    if (this.peek() === '-') {
      this.take();
      return { kind: 'negate', operand: this.nested(() => this.unary()) };
    }
    return this.primary();
  }

  /** Parses a part inside another (a negation, brackets, parentheses), refusing deep nesting. */
  private nested(parse: () => Node): Node {
    if (++this.depth > MAX_NESTING) throw new ExpressionError(`'${this.text.slice(0, 40)}…' nests more than ${MAX_NESTING} levels deep`);
    const node = parse();
    this.depth--;
    return node;
  }

  private primary(): Node {
    const token = this.take();
    if (token === '(') {
      const node = this.nested(() => this.sum());
      this.take(')');
      return node;
    }
    if (token === '[') return this.memory(4);
    const size = SIZES[token.toLowerCase()];
    if (size) {
      if (this.peek()?.toLowerCase() === 'ptr') this.take();
      this.take('[');
      return this.memory(size);
    }
    if (/^[0-9]/.test(token)) return { kind: 'number', value: parseNumber(token) };
    if (/^[a-z_]/i.test(token)) return { kind: 'register', name: token.toLowerCase() };
    throw new ExpressionError(`unexpected '${token}' in '${this.text}'`);
  }

  private memory(size: Size): Node {
    const address = this.nested(() => this.sum());
    this.take(']');
    return { kind: 'memory', size, address };
  }
}

export function parseExpression(text: string): Node {
  if (text.length > MAX_LENGTH) throw new ExpressionError(`the expression is ${text.length} characters long; at most ${MAX_LENGTH} are evaluated`);
  return new Parser(tokenize(text), text.trim()).parse();
}

// ---- evaluating ----

export async function evaluateExpression(text: string, context: EvaluationContext): Promise<Evaluation> {
  return evaluateNode(parseExpression(text), context);
}

async function evaluateNode(node: Node, context: EvaluationContext): Promise<Evaluation> {
  switch (node.kind) {
    case 'number':
      return { value: node.value & MASK64, size: node.value > 0xffffffffn ? 8 : 4 };
    case 'register': {
      const register = registerValue(context.registers, node.name);
      if (!register) throw new ExpressionError(`unknown register '${node.name}'`);
      return { value: BigInt(register.value), size: register.size };
    }
    case 'negate': {
      const operand = await evaluateNode(node.operand, context);
      return { value: -operand.value & MASK64, size: operand.size };
    }
    case 'binary': {
      const [left, right] = [await evaluateNode(node.left, context), await evaluateNode(node.right, context)];
      const value = node.op === '+' ? left.value + right.value : node.op === '-' ? left.value - right.value : left.value * right.value;
      return { value: value & MASK64, size: Math.max(left.size, right.size) as Size };
    }
    case 'memory': {
      const address = Number((await evaluateNode(node.address, context)).value & 0xffffffffn);
      const bytes = await context.read(address, node.size);
      let value = 0n;
      for (let i = node.size - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]);
      return { value, size: node.size, address };
    }
  }
}

/** `0x0000002a (42)`: hexadecimal as wide as the value, and decimal. */
export function formatValue(value: bigint, size: Size): string {
  return `0x${value.toString(16).padStart(size * 2, '0')} (${value})`;
}
