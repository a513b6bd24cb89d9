// The extension's entry point: wires the debugger (the adapter runs inline, in this process), the
// commands, the logging-channel panel, log files, the guest console and telemetry together.
import * as vscode from 'vscode';
import { inlineAdapterFactory } from './adapterFactory';
import { LockstepCommands } from './commands';
import { LockstepConfigurationProvider } from './debugConfig';
import { ReplayMark, registerLogFiles } from './ftlogEditor';
import { ConsoleManager } from './consoles';
import { LoggingChannelPanel } from './panelView';
import { DEBUG_TYPE, SessionTracker, sessionMode } from './sessions';
import { createTelemetry, telemetryConnectionString, type LockstepTelemetry } from './telemetry';

let telemetry: LockstepTelemetry | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const tracker = new SessionTracker();
  const replayMark = new ReplayMark();
  const commands = new LockstepCommands(tracker, replayMark);
  const panel = new LoggingChannelPanel(context.extensionUri, tracker, commands);
  const consoles = new ConsoleManager(tracker);
  telemetry = createTelemetry(telemetryConnectionString(context.extension.packageJSON as object));
  context.subscriptions.push(
    tracker,
    replayMark,
    panel,
    consoles,
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, inlineAdapterFactory(context.extensionUri)),
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, new LockstepConfigurationProvider()),
    ...commands.register(() => panel.show(), () => consoles.openForCurrent()),
    ...registerLogFiles(),
    ...watchForTelemetry(tracker, telemetry),
  );
}

export async function deactivate(): Promise<void> {
  await telemetry?.dispose();
  telemetry = undefined;
}

function watchForTelemetry(tracker: SessionTracker, t: LockstepTelemetry): vscode.Disposable[] {
  return [
    tracker.onDidStart((s) => t.sessionStarted(typeof s.configuration.guest === 'string' ? s.configuration.guest : undefined, sessionMode(s.configuration))),
    tracker.onMessage(({ message }) => {
      if (message.type !== 'event') return;
      if (message.event === 'lockstep/failover') t.failover(message.body.generation);
      if (message.event === 'lockstep/divergence') t.divergence(message.body.pages?.length ?? 0);
    }),
  ];
}
