// Hosts the logging-channel panel (src/extension/panel/: its HTML and bundle): one webview, fed the
// current session's events (its history first, so a panel opened mid-session is complete), and
// acting on what the panel posts (go to an instruction, faults, failover) through the adapter's
// custom requests.
import * as vscode from 'vscode';
import type { PanelInboundMessage, PanelMessage } from '../adapter/protocol';
import { isPanelMessage, newNonce, PANEL_ASSET_DIR, PANEL_SCRIPT, PANEL_STYLE, panelHtml } from './panel/html';
import type { SessionTracker } from './sessions';

export const PANEL_VIEW_TYPE = 'lockstep.loggingChannel';

export class LoggingChannelPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private ready = false;
  /** The session whose events the panel shows. */
  private session: vscode.DebugSession | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly tracker: SessionTracker,
    private readonly actions: PanelActions,
  ) {
    this.disposables.push(tracker.onMessage(({ session, message }) => this.relay(session, message)));
  }

  /** Opens (or reveals) the panel on the current session. */
  show(): void {
    if (this.panel) return this.panel.reveal(undefined, true);
    const root = vscode.Uri.joinPath(this.extensionUri, PANEL_ASSET_DIR);
    this.panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, 'Lockstep: logging channel', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
      enableScripts: true,
      localResourceRoots: [root],
      // The table and charts hold far more than getState should carry; keep the page alive instead.
      retainContextWhenHidden: true,
    });
    this.panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'icon.png');
    const webview = this.panel.webview;
    this.ready = false;
    this.panel.onDidDispose(() => { this.panel = undefined; }, undefined, this.disposables);
    webview.onDidReceiveMessage((m: unknown) => this.onPanelMessage(m), undefined, this.disposables);
    webview.html = panelHtml({
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, PANEL_SCRIPT)).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, PANEL_STYLE)).toString(),
      cspSource: webview.cspSource,
      nonce: newNonce(),
    });
  }

  get visible(): boolean {
    return this.panel !== undefined;
  }

  private post(message: PanelInboundMessage): void {
    if (this.panel && this.ready) void this.panel.webview.postMessage(message);
  }

  // A new session takes over the panel; events of other sessions are not mixed in.
  private relay(session: vscode.DebugSession, message: PanelInboundMessage): void {
    if (message.type === 'session' && message.state === 'started') this.session = session;
    if (session.id !== this.session?.id) return;
    this.post(message);
  }

  // The page has loaded (or reloaded): replay the session so far.
  private onReady(): void {
    this.ready = true;
    this.session ??= this.tracker.current();
    if (this.session) for (const message of this.tracker.history(this.session)) this.post(message);
  }

  private onPanelMessage(m: unknown): void {
    if (!isPanelMessage(m)) return; // a webview is a page like any other
    if (m.type === 'ready') return this.onReady();
    const session = this.session && this.tracker.current()?.id === this.session.id
      ? this.session
      : this.tracker.current();
    if (!session) {
      void vscode.window.showWarningMessage('Lockstep: no session is running.');
      return;
    }
    this.actions.run(session, m).catch((err: unknown) => {
      void vscode.window.showErrorMessage(`Lockstep: ${(err as Error).message ?? String(err)}`);
    });
  }

  dispose(): void {
    this.panel?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

/** What the panel's controls do; the commands do the same things. */
export interface PanelActions {
  run(session: vscode.DebugSession, message: Exclude<PanelMessage, { type: 'ready' }>): Promise<void>;
}
