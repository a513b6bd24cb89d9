// The debug console's commands: a line starting with '.' (or `watch …`, which no expression can be).
import type { DebugState, Watch } from '../ft/cluster';
import { bytesAt, count } from './format';
import type { Watches } from './watches';

export const CONSOLE_HELP = [
  'Expressions: registers (eax, ax, al, eip, eflags, cs, cr0 ...), numbers (42, 0x2a, 2ah), + - * ( ),',
  '  memory: [expr] (a dword), byte [esi+4], word ptr [x], dword [esp], qword [ebx]. Addresses are linear.',
  'Assignment: eax = 5 (eax ... edi, eip; at the live edge).',
  'Commands: .goto N       run every machine to instruction N (forwards or backwards)',
  '          .watch EXPR  a data breakpoint on what EXPR reads ([x], byte [esi+4]; a register or a number:',
  '                       the dword it points to): continue and reverse continue stop where it changes',
  '          .watch       the data breakpoints set (here and in the Breakpoints view)',
  '          .unwatch     drops the data breakpoints set here',
  '          .help        this text',
].join('\n');

/** A command the console cannot run: the message says why. */
export class CommandError extends Error {
  override name = 'CommandError';
}

/** What the commands act on (the session). */
export interface ConsoleTarget {
  goTo(threadId: number, instruction: number): Promise<DebugState>;
  watchOf(threadId: number, expression: string): Promise<Watch>;
  watches: Watches;
}

export const isCommand = (line: string) => line.startsWith('.') || /^watch\b/i.test(line);

export class DebugConsole {
  constructor(private readonly target: ConsoleTarget) {}

  /** Runs a command line; returns what the console shows. */
  async run(line: string, threadId: number): Promise<string> {
    const [word, ...rest] = line.replace(/^(?=watch\b)/i, '.').split(/\s+/);
    const name = word.toLowerCase();
    const argument = rest.join(' ');
    if (name === '.help') return CONSOLE_HELP;
    if (name === '.goto') return this.goTo(threadId, argument);
    if (name === '.watch') return argument === '' ? this.listWatches() : this.watch(threadId, argument);
    if (name === '.unwatch') return this.unwatch(argument);
    throw new CommandError(`unknown command '${word}' (try .help)`);
  }

  private async goTo(threadId: number, argument: string): Promise<string> {
    const target = argument.replace(/[\s_,]/g, '');
    if (!/^\d+$/.test(target) || !Number.isSafeInteger(Number(target))) throw new CommandError(`.goto needs an instruction count, got '${argument}'`);
    const state = await this.target.goTo(threadId, Number(target));
    return `at instruction ${count(state.position)}`;
  }

  private async watch(threadId: number, expression: string): Promise<string> {
    const watch = await this.target.watchOf(threadId, expression);
    this.target.watches.add(watch);
    return `watching ${bytesAt(watch.address, watch.length)}: continue and reverse continue stop where they change`;
  }

  private listWatches(): string {
    const set = this.target.watches.list().map(({ watch, from }) =>
      `${bytesAt(watch.address, watch.length)} (${from === 'client' ? 'Breakpoints view' : 'console'})`);
    return set.length ? set.join('\n') : 'no data breakpoints (.watch EXPR sets one)';
  }

  private unwatch(argument: string): string {
    if (argument !== '') throw new CommandError(`.unwatch takes nothing (it drops every watch set here), got '${argument}'`);
    const dropped = this.target.watches.clearConsole();
    return `${dropped} data breakpoint${dropped === 1 ? '' : 's'} dropped`;
  }
}
