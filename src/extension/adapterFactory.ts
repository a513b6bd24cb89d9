// The debug adapter runs inline, in the extension host: no adapter process to start. The FT hosts it
// forks run the CLI bundle that ships beside this one (dist/cli.js, `lockstep host`), with none of
// the extension host's own Node flags.
import { join } from 'node:path';
import * as vscode from 'vscode';
import { LockstepDebugSession } from '../adapter/session';
import type { HostLauncher } from '../ft/cluster';

export function hostLauncher(extensionUri: vscode.Uri): HostLauncher {
  return { script: join(extensionUri.fsPath, 'dist', 'cli.js'), execArgv: [] };
}

/** VS Code shows a memoryReference with this extension, and without it offers to install it. */
export const MEMORY_VIEW_EXTENSION = 'ms-vscode.hexeditor';

export function inlineAdapterFactory(extensionUri: vscode.Uri): vscode.DebugAdapterDescriptorFactory {
  return {
    createDebugAdapterDescriptor() {
      // No memory icon that leads to the marketplace (an error offline): memory is read in the console.
      const memoryView = vscode.extensions.getExtension(MEMORY_VIEW_EXTENSION) !== undefined;
      const session = new LockstepDebugSession({ launcher: hostLauncher(extensionUri), memoryView });
      return new vscode.DebugAdapterInlineImplementation(session);
    },
  };
}
