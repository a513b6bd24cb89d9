// The Lockstep debug sessions VS Code runs: which one is current, its custom events (the adapter's
// logging-channel stream, src/adapter/protocol.ts) for the panel, telemetry and the console, and
// typed custom requests back to it.
import * as vscode from 'vscode';
import type { LockstepEvents, LockstepRequests, PanelInboundMessage } from '../adapter/protocol';

export const DEBUG_TYPE = 'lockstep';

export type SessionMode = 'ft' | 'single' | 'replay';

/** A replay when the configuration names a log file, else its mode (src/adapter/launchSchema.json). */
export function sessionMode(configuration: vscode.DebugConfiguration): SessionMode {
  if (typeof configuration.log === 'string' && configuration.log !== '') return 'replay';
  return configuration.mode === 'single' ? 'single' : 'ft';
}

/** The events the panel shows, kept per session so a panel opened late starts complete. */
const EVENT_HISTORY_LIMIT = 20_000;

const LOCKSTEP_EVENTS: ReadonlySet<string> = new Set<keyof LockstepEvents>([
  'lockstep/channel', 'lockstep/entries', 'lockstep/output', 'lockstep/divergence', 'lockstep/failover', 'lockstep/views',
]);

export interface SessionEvent { session: vscode.DebugSession; message: PanelInboundMessage }

export class SessionTracker implements vscode.Disposable {
  private readonly sessions = new Map<string, { session: vscode.DebugSession; history: PanelInboundMessage[] }>();
  private readonly emitter = new vscode.EventEmitter<SessionEvent>();
  private readonly started = new vscode.EventEmitter<vscode.DebugSession>();
  private readonly disposables: vscode.Disposable[] = [];
  private lastStarted: vscode.DebugSession | undefined;
  /** Panel messages as they happen: adapter events and session starts/ends. */
  readonly onMessage = this.emitter.event;
  readonly onDidStart = this.started.event;

  constructor() {
    this.disposables.push(
      vscode.debug.onDidStartDebugSession((s) => this.onStart(s)),
      vscode.debug.onDidTerminateDebugSession((s) => this.onEnd(s)),
      vscode.debug.onDidReceiveDebugSessionCustomEvent((e) => this.onCustomEvent(e)),
      vscode.debug.onDidChangeActiveDebugSession(() => this.updateContext()),
      this.emitter,
      this.started,
    );
  }

  /** The session commands act on: the focused one if it is Lockstep's, else the latest started. */
  current(): vscode.DebugSession | undefined {
    const active = vscode.debug.activeDebugSession;
    if (active?.type === DEBUG_TYPE && this.sessions.has(active.id)) return active;
    return this.lastStarted && this.sessions.has(this.lastStarted.id) ? this.lastStarted : undefined;
  }

  /** Everything the panel was sent for this session so far. */
  history(session: vscode.DebugSession): readonly PanelInboundMessage[] {
    return this.sessions.get(session.id)?.history ?? [];
  }

  request<K extends keyof LockstepRequests>(session: vscode.DebugSession, command: K, args: LockstepRequests[K]['args']): Promise<LockstepRequests[K]['body']> {
    return Promise.resolve(session.customRequest(command, args));
  }

  private onStart(session: vscode.DebugSession): void {
    if (session.type !== DEBUG_TYPE) return;
    this.sessions.set(session.id, { session, history: [] });
    this.lastStarted = session;
    this.publish(session, { type: 'session', state: 'started', name: session.name });
    this.started.fire(session);
    this.updateContext();
  }

  private onEnd(session: vscode.DebugSession): void {
    if (!this.sessions.has(session.id)) return;
    this.publish(session, { type: 'session', state: 'ended', name: session.name });
    this.sessions.delete(session.id);
    this.updateContext();
  }

  private onCustomEvent(e: vscode.DebugSessionCustomEvent): void {
    if (!this.sessions.has(e.session.id) || !LOCKSTEP_EVENTS.has(e.event)) return;
    this.publish(e.session, { type: 'event', event: e.event, body: e.body } as PanelInboundMessage);
  }

  private publish(session: vscode.DebugSession, message: PanelInboundMessage): void {
    const entry = this.sessions.get(session.id);
    if (entry) {
      entry.history.push(message);
      if (entry.history.length > EVENT_HISTORY_LIMIT) {
        entry.history.splice(1, entry.history.length - EVENT_HISTORY_LIMIT);
      }
    }
    this.emitter.fire({ session, message });
  }

  // Command enablement: failover and faults only make sense on a live pair.
  private updateContext(): void {
    const session = this.current();
    void vscode.commands.executeCommand('setContext', 'lockstep.sessionMode', session ? sessionMode(session.configuration) : '');
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
