// The palette commands (category "Lockstep") and the panel's controls: both end in the adapter's
// custom requests (src/adapter/protocol.ts) or in starting a debug session.
import * as vscode from 'vscode';
import type { PanelMessage } from '../adapter/protocol';
import { FAULT_KIND_NAMES, FAULT_KINDS, faultArgument, type FaultKind } from '../ft/cluster';
import { BUILTIN_GUESTS } from '../ft/machine';
import { ftConfiguration, replayConfiguration } from './debugConfig';
import { cursorEntry, openLogFile, type ReplayMark } from './ftlogEditor';
import type { PanelActions } from './panelView';
import { DEBUG_TYPE, type SessionTracker } from './sessions';

const LOG_FILTERS = { 'Lockstep logs': ['ftlog'] };

interface FaultChoice extends vscode.QuickPickItem { fault: FaultKind }

/** "Inject fault…": every fault kind (src/ft/cluster/faults.ts); one that takes a value asks for it (…). */
const FAULTS: FaultChoice[] = FAULT_KIND_NAMES.map((fault) => {
  const { label, does } = FAULT_KINDS[fault];
  return { fault, label: faultArgument(fault).range ? `${label}…` : label, description: does };
});

export class LockstepCommands implements PanelActions {
  constructor(private readonly tracker: SessionTracker, private readonly replayMark: ReplayMark) {}

  register(openPanel: () => void, openConsole: () => void): vscode.Disposable[] {
    const command = (id: string, run: (...args: never[]) => unknown) =>
      vscode.commands.registerCommand(id, async (...args: never[]) => {
        try {
          await run(...args);
        } catch (err) {
          void vscode.window.showErrorMessage(`Lockstep: ${(err as Error).message ?? String(err)}`);
        }
      });
    return [
      command('lockstep.startFtSession', () => this.startFtSession()),
      command('lockstep.goToInstruction', () => this.goToInstruction()),
      command('lockstep.failover', () => this.failover()),
      command('lockstep.injectFault', () => this.injectFault()),
      command('lockstep.openLoggingChannel', openPanel),
      command('lockstep.openConsole', openConsole),
      command('lockstep.recordLog', () => this.recordLog()),
      command('lockstep.openLogFile', () => this.openLogFile()),
      command('lockstep.replayToHere', (file?: vscode.Uri, at?: number, line?: number) => this.replayToHere(file, at, line)),
    ];
  }

  /** What the panel's controls ask for. */
  async run(session: vscode.DebugSession, m: Exclude<PanelMessage, { type: 'ready' }>): Promise<void> {
    switch (m.type) {
      case 'goToInstruction':
        return this.runTo(session, m.instruction);
      case 'fault':
        await this.tracker.request(session, 'lockstep/injectFault', m.value === undefined ? { kind: m.kind } : { kind: m.kind, value: m.value });
        return;
      case 'failover':
        await this.tracker.request(session, 'lockstep/failover', {});
        return;
    }
  }

  private session(): vscode.DebugSession {
    const session = this.tracker.current();
    if (!session) throw new Error('no Lockstep debug session is running');
    return session;
  }

  private async startFtSession(): Promise<void> {
    const items = [...BUILTIN_GUESTS.map((g) => ({ label: g, description: g === 'kv' ? 'key/value service (the demo)' : 'built-in guest' })), { label: 'Image file…', description: 'a multiboot kernel' }];
    const pick = await vscode.window.showQuickPick(items, { title: 'Lockstep: start an FT pair', placeHolder: 'Guest' });
    if (!pick) return;
    let guest = pick.label;
    if (pick.label === 'Image file…') {
      const file = await vscode.window.showOpenDialog({ canSelectMany: false, title: 'Guest image' });
      if (!file?.[0]) return;
      guest = file[0].fsPath;
    }
    await this.start(ftConfiguration(guest));
  }

  private async start(config: vscode.DebugConfiguration): Promise<void> {
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (!(await vscode.debug.startDebugging(folder, config))) throw new Error(`could not start "${config.name}"`);
  }

  /** The thread to act on: the focused one of this session, else its primary. */
  private async threadId(session: vscode.DebugSession): Promise<number> {
    const item = vscode.debug.activeStackItem;
    if (item && item.session.id === session.id) return item.threadId;
    const { threads } = (await session.customRequest('threads')) as { threads: { id: number; name: string }[] };
    const primary = threads.find((t) => /primary/i.test(t.name)) ?? threads[0];
    if (!primary) throw new Error('the session has no threads yet');
    return primary.id;
  }

  private async runTo(session: vscode.DebugSession, instruction: number): Promise<void> {
    const threadId = await this.threadId(session);
    await this.tracker.request(session, 'lockstep/runToInstruction', { threadId, instruction });
  }

  private async goToInstruction(): Promise<void> {
    const session = this.session();
    const text = await vscode.window.showInputBox({
      title: 'Lockstep: go to instruction',
      prompt: 'Instruction count to stop at (forwards or backwards)',
      validateInput: (v) => (/^\d+$/.test(v.trim().replace(/_/g, '')) ? undefined : 'a whole number of instructions'),
    });
    if (text === undefined) return;
    await this.runTo(session, Number(text.trim().replace(/_/g, '')));
  }

  private async failover(): Promise<void> {
    const { newPrimary } = await this.tracker.request(this.session(), 'lockstep/failover', {});
    if (newPrimary) void vscode.window.setStatusBarMessage(`Lockstep: ${newPrimary} is the primary now`, 5000);
  }

  private async injectFault(): Promise<void> {
    const session = this.session();
    const choice = await vscode.window.showQuickPick(FAULTS, { title: 'Lockstep: inject a fault', placeHolder: 'Fault' });
    if (!choice) return;
    let value: number | undefined;
    const { means, range } = faultArgument(choice.fault);
    if (range) {
      const text = await vscode.window.showInputBox({
        title: choice.label,
        prompt: `${capitalized(means)}: ${choice.description}`,
        // A log entry is the user's to name; a rate or a delay starts from an example.
        value: range.whole ? '' : FAULT_KINDS[choice.fault].example,
        validateInput: (v) => {
          const n = Number(v);
          const fits = v.trim() !== '' && Number.isFinite(n) && n >= range.min && n <= range.max && (!range.whole || Number.isInteger(n));
          return fits ? undefined : `a ${range.whole ? 'whole ' : ''}number from ${range.min} to ${range.max}`;
        },
      });
      if (text === undefined) return;
      value = Number(text);
    }
    await this.tracker.request(session, 'lockstep/injectFault', value === undefined ? { kind: choice.fault } : { kind: choice.fault, value });
  }

  /** Starts an FT pair (the current session's guest, else kv) that records its log to a chosen file. */
  private async recordLog(): Promise<void> {
    const target = await vscode.window.showSaveDialog({ filters: LOG_FILTERS, title: 'Lockstep: record the log to', saveLabel: 'Record' });
    if (!target) return;
    const current = this.tracker.current();
    const base = current && current.type === DEBUG_TYPE && typeof current.configuration.guest === 'string' ? current.configuration : ftConfiguration('kv');
    await this.start({ ...base, name: `${base.name} (recording)`, mode: 'ft', record: target.fsPath });
  }

  private async openLogFile(): Promise<void> {
    const files = await vscode.window.showOpenDialog({ canSelectMany: false, filters: LOG_FILTERS, title: 'Lockstep: open a log file' });
    if (files?.[0]) await openLogFile(files[0]);
  }

  /** From a CodeLens (file, instruction, line) or the palette (the entry under the cursor); marks the line. */
  private async replayToHere(file?: vscode.Uri, at?: number, line?: number): Promise<void> {
    const lens = file && at !== undefined && line !== undefined ? { file, at, line } : undefined;
    const target = lens ?? cursorEntry(vscode.window.activeTextEditor);
    if (!target) throw new Error('put the cursor on an entry line of a log file');
    await this.replayMark.set(target.file, target.line);
    await this.start(replayConfiguration(target.file.fsPath, { stopOnEntry: false, stopAt: target.at, name: `Lockstep: replay to @${target.at}` }));
  }
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
