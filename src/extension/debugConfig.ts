// Debug configurations of type `lockstep`: the ones launch.json starts with, and the defaults a
// configuration gets when it leaves something out (or when there is no launch.json at all: F5 then
// starts the FT pair on the kv guest).
import * as vscode from 'vscode';
import { DEBUG_TYPE } from './sessions';

export const FT_KV_NAME = 'Lockstep: FT pair on the kv guest';
export const REPLAY_NAME = 'Lockstep: replay a log file';

export function ftConfiguration(guest = 'kv', extra: Record<string, unknown> = {}): vscode.DebugConfiguration {
  return { type: DEBUG_TYPE, request: 'launch', name: guest === 'kv' ? FT_KV_NAME : `Lockstep: FT pair on ${guest}`, guest, stopOnEntry: true, ...extra };
}

export function replayConfiguration(log: string, extra: Record<string, unknown> = {}): vscode.DebugConfiguration {
  return { type: DEBUG_TYPE, request: 'launch', name: `Lockstep: replay ${log.split(/[\\/]/).pop()}`, log, stopOnEntry: true, ...extra };
}

/** Fills what a configuration left out; an empty one (no launch.json) becomes the kv FT pair. */
export class LockstepConfigurationProvider implements vscode.DebugConfigurationProvider {
  provideDebugConfigurations(): vscode.DebugConfiguration[] {
    return [ftConfiguration('kv'), { ...replayConfiguration('${workspaceFolder}/recording.ftlog'), name: REPLAY_NAME }];
  }

  resolveDebugConfiguration(
    folder: vscode.WorkspaceFolder | undefined,
    config: vscode.DebugConfiguration,
  ): vscode.DebugConfiguration {
    if (!config.type && !config.request && !config.name) {
      const editor = vscode.window.activeTextEditor;
      // F5 in a log file replays it; anywhere else it starts the kv pair.
      if (editor?.document.languageId === 'ftlog') return replayConfiguration(editor.document.uri.fsPath);
      return ftConfiguration('kv');
    }
    // Relative paths in launch.json mean the workspace folder's, not the extension host's directory.
    return withDefaults(folder && config.cwd === undefined ? { ...config, cwd: folder.uri.fsPath } : config);
  }
}

/** Defaults for a configuration that names its type (the adapter checks the rest). */
export function withDefaults(config: vscode.DebugConfiguration): vscode.DebugConfiguration {
  const out: vscode.DebugConfiguration = { ...config, type: config.type || DEBUG_TYPE, request: config.request || 'launch', name: config.name || FT_KV_NAME };
  if (!out.log && !out.guest) out.guest = 'kv';
  return out;
}
