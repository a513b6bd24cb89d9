// One guest console terminal per live FT session: opened when the session starts (without taking
// focus), ended when it ends. Replays have no service to type into.
import * as vscode from 'vscode';
import { GuestConsole, type ServiceAddress } from './guestConsole';
import { sessionMode, type SessionTracker } from './sessions';

export class ConsoleManager implements vscode.Disposable {
  private readonly open = new Map<string, { console: GuestConsole; terminal: vscode.Terminal }>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly tracker: SessionTracker) {
    this.disposables.push(
      tracker.onDidStart((session) => {
        const auto = vscode.workspace.getConfiguration('lockstep').get<boolean>('console.openOnStart', true);
        if (auto && sessionMode(session.configuration) === 'ft') this.openFor(session, false);
      }),
      vscode.debug.onDidTerminateDebugSession((session) => this.close(session, 'the debug session ended')),
      vscode.window.onDidCloseTerminal((t) => {
        for (const [id, entry] of this.open) if (entry.terminal === t) this.open.delete(id);
      }),
    );
  }

  /** The Open guest console command. */
  openForCurrent(): void {
    const session = this.tracker.current();
    if (!session) throw new Error('no Lockstep debug session is running');
    if (sessionMode(session.configuration) !== 'ft') throw new Error('a replay has no guest console: its inputs come from the log');
    this.openFor(session, true);
  }

  private openFor(session: vscode.DebugSession, focus: boolean): void {
    const existing = this.open.get(session.id);
    if (existing) return existing.terminal.show(!focus);
    const guest = typeof session.configuration.guest === 'string' ? session.configuration.guest.split(/[\\/]/).pop() : 'guest';
    const title = `Lockstep: ${guest} console`;
    const console = new GuestConsole(() => this.address(session), title);
    const terminal = vscode.window.createTerminal({ name: title, pty: console, iconPath: new vscode.ThemeIcon('vm') });
    this.open.set(session.id, { console, terminal });
    terminal.show(!focus);
  }

  private async address(session: vscode.DebugSession): Promise<ServiceAddress | undefined> {
    const body = await this.tracker.request(session, 'lockstep/service', {});
    return body?.address;
  }

  private close(session: vscode.DebugSession, reason: string): void {
    this.open.get(session.id)?.console.end(reason);
    this.open.delete(session.id);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    for (const { console } of this.open.values()) console.close();
  }
}
