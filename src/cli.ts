// The `lockstep` command line. Each command parses its options here and calls into src/ft/.
import { parseArgs, ParseArgsConfig } from 'node:util';
import { readFileSync } from 'node:fs';
import { BUILTIN_GUESTS, loadImage } from './ft/image';
import { InputScript } from './ft/inputscript';
import { DEFAULT_EPOCH_LENGTH, DEFAULT_MEMORY_MIB } from './ft/machine';
import { runGuest } from './ft/run';

export class UsageError extends Error {
  override name = 'UsageError';
}

const USAGE = `usage: lockstep <command> [options]

commands:
  run <guest | image>   run one deterministic machine and print the guest's serial output
      --clock virtual|host   --no-jit   --memory MiB   --epoch N   --max-instructions N
      --input FILE   --clone-at N   --snapshot-at N --snapshot-file F   --from-snapshot F
      --cmdline TEXT   --bios FILE --vga-bios FILE [--initrd FILE]   --json

built-in guests: ${BUILTIN_GUESTS.join(', ')}`;

/** A whole number in range, or a UsageError naming the option. */
export function integerOption(name: string, text: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined;
  const normalized = text.replace(/_/g, '');
  const value = /^\d+(e\d+)?$/i.test(normalized) ? Number(normalized) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name}: expected a whole number from ${min} to ${max}, got '${text}'`);
  }
  return value;
}

type Values = Record<string, string | boolean | undefined>;

function parse(args: string[], options: ParseArgsConfig['options']): { values: Values; positionals: string[] } {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true }) as { values: Values; positionals: string[] };
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function run(args: string[]): Promise<void> {
  const { values, positionals } = parse(args, {
    clock: { type: 'string', default: 'virtual' },
    'no-jit': { type: 'boolean', default: false },
    memory: { type: 'string' },
    epoch: { type: 'string' },
    'max-instructions': { type: 'string' },
    input: { type: 'string' },
    'clone-at': { type: 'string' },
    'snapshot-at': { type: 'string' },
    'snapshot-file': { type: 'string' },
    'from-snapshot': { type: 'string' },
    cmdline: { type: 'string' },
    bios: { type: 'string' },
    'vga-bios': { type: 'string' },
    initrd: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (positionals.length !== 1) throw new UsageError(`run: expected one guest (${BUILTIN_GUESTS.join(', ')}) or image path, got ${positionals.length}`);
  const clock = values.clock as string;
  if (clock !== 'virtual' && clock !== 'host') throw new UsageError(`--clock: expected virtual or host, got '${clock}'`);
  const snapshotAt = integerOption('snapshot-at', values['snapshot-at'] as string | undefined, 0);
  if ((snapshotAt === undefined) !== (values['snapshot-file'] === undefined)) {
    throw new UsageError('--snapshot-at and --snapshot-file go together');
  }
  const json = values.json as boolean;
  const result = await runGuest({
    image: loadImage(positionals[0]),
    clock,
    jit: !values['no-jit'],
    memoryMiB: integerOption('memory', values.memory as string | undefined, 4, 2048) ?? DEFAULT_MEMORY_MIB,
    epochLength: integerOption('epoch', values.epoch as string | undefined, 100_000) ?? DEFAULT_EPOCH_LENGTH,
    maxInstructions: integerOption('max-instructions', values['max-instructions'] as string | undefined, 1),
    input: values.input ? InputScript.fromFile(values.input as string) : undefined,
    cloneAt: integerOption('clone-at', values['clone-at'] as string | undefined, 0),
    snapshotTo: snapshotAt === undefined ? undefined : { at: snapshotAt, path: values['snapshot-file'] as string },
    fromSnapshot: values['from-snapshot'] as string | undefined,
    cmdline: values.cmdline as string | undefined,
    bios: values.bios
      ? {
          bios: readFileSync(values.bios as string),
          vgaBios: readFileSync((values['vga-bios'] as string | undefined) ?? '/usr/share/seabios/vgabios-stdvga.bin'),
          initrd: values.initrd ? readFileSync(values.initrd as string) : undefined,
        }
      : undefined,
    onSerial: json ? undefined : (data) => process.stdout.write(data),
  });
  if (json) {
    const { recorded, epochs, ...summary } = result;
    process.stdout.write(`${JSON.stringify({ ...summary, inputs: recorded.filter((e) => e.kind === 'input').length })}\n`);
  } else if (result.end === 'limit') {
    process.stderr.write(`lockstep: stopped at the instruction limit (${result.instructions})\n`);
  }
}

const COMMANDS: Record<string, (args: string[]) => Promise<void>> = { run };

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  if (!command || command === '--help' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  const handler = COMMANDS[command];
  try {
    if (!handler) throw new UsageError(`unknown command '${command}'\n${USAGE}`);
    await handler(args);
    return 0;
  } catch (error) {
    const err = error as Error;
    const known = ['UsageError', 'ImageError', 'InputScriptError', 'RangeError', 'SnapshotError', 'LogFormatError'];
    process.stderr.write(`lockstep: ${known.includes(err.name) ? err.message : err.stack ?? err.message}\n`);
    return known.includes(err.name) ? 2 : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
