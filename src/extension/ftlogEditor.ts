// *.ftlog files in the editor: read-only text in the `ftlog` language, one line per entry
// (ftlogText.ts), a "Replay to here" CodeLens on every entry line, and the first damaged byte shown
// as an error diagnostic. A log is binary, so opening one from the Explorer goes through a custom
// editor whose only job is to open the text view instead.
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { entryLineInstruction, renderLogFile } from './ftlogText';

/** Text views of log files: `lockstep-log:/path/to/file.ftlog`, the path of the file itself. */
export const LOG_SCHEME = 'lockstep-log';
export const LOG_LANGUAGE = 'ftlog';
export const LOG_EDITOR_VIEW_TYPE = 'lockstep.ftlog';
export const REPLAY_TO_HERE = 'lockstep.replayToHere';

export function logViewUri(file: vscode.Uri): vscode.Uri {
  return vscode.Uri.file(file.fsPath).with({ scheme: LOG_SCHEME });
}

/** Opens the text view of a log file. */
export async function openLogFile(file: vscode.Uri, column?: vscode.ViewColumn): Promise<vscode.TextEditor> {
  const document = await vscode.workspace.openTextDocument(logViewUri(file));
  if (document.languageId !== LOG_LANGUAGE) await vscode.languages.setTextDocumentLanguage(document, LOG_LANGUAGE);
  return vscode.window.showTextDocument(document, { viewColumn: column, preview: true });
}

class LogContentProvider implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly watchers = new Map<string, vscode.FileSystemWatcher>();

  constructor(private readonly diagnostics: vscode.DiagnosticCollection) {}

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    this.watch(uri);
    try {
      const rendered = await renderLogFile(uri.fsPath, basename(uri.fsPath));
      this.diagnostics.set(uri, rendered.error && rendered.errorLine !== undefined
        ? [damageDiagnostic(rendered.errorLine, `Damaged log: ${rendered.error.reason} at byte ${rendered.error.offset}. Only the ${rendered.entries} entries before it could be read.`)]
        : []);
      return rendered.text;
    } catch (err) {
      // Not a damaged log but no log at all (missing, unreadable): say so in the document itself.
      this.diagnostics.set(uri, [damageDiagnostic(0, (err as Error).message)]);
      return `// ERROR at byte 0: ${(err as Error).message}\n`;
    }
  }

  // A log still being recorded grows: refresh its view when the file changes.
  private watch(uri: vscode.Uri): void {
    if (this.watchers.has(uri.toString())) return;
    const file = vscode.Uri.file(uri.fsPath);
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.joinPath(file, '..'), basename(file.fsPath)));
    watcher.onDidChange(() => this.changed.fire(uri));
    watcher.onDidCreate(() => this.changed.fire(uri));
    this.watchers.set(uri.toString(), watcher);
  }

  forget(uri: vscode.Uri): void {
    this.watchers.get(uri.toString())?.dispose();
    this.watchers.delete(uri.toString());
    this.diagnostics.delete(uri);
  }

  dispose(): void {
    for (const w of this.watchers.values()) w.dispose();
    this.changed.dispose();
  }
}

function damageDiagnostic(line: number, message: string): vscode.Diagnostic {
  const d = new vscode.Diagnostic(
    new vscode.Range(line, 0, line, Number.MAX_SAFE_INTEGER),
    message,
    vscode.DiagnosticSeverity.Error,
  );
  d.source = 'lockstep';
  return d;
}

/** "Replay to here" above every entry line. */
class ReplayLensProvider implements vscode.CodeLensProvider {
  provideCodeLenses(document: vscode.TextDocument): vscode.CodeLens[] {
    const lenses: vscode.CodeLens[] = [];
    for (let line = 0; line < document.lineCount; line++) {
      const entry = entryLineInstruction(document.lineAt(line).text);
      if (!entry) continue;
      lenses.push(new vscode.CodeLens(new vscode.Range(line, 0, line, 0), {
        title: `Replay to here (@${entry.at})`,
        tooltip: `Start a replay of this log stopped at instruction ${entry.at}, where entry #${entry.seq} applies`,
        command: REPLAY_TO_HERE,
        arguments: [document.uri, entry.at, line],
      }));
    }
    return lenses;
  }
}

/** Opening a .ftlog from the Explorer: show the text view in the same place, then close this editor. */
class RedirectEditorProvider implements vscode.CustomReadonlyEditorProvider {
  openCustomDocument(uri: vscode.Uri): vscode.CustomDocument {
    return { uri, dispose: () => undefined };
  }

  async resolveCustomEditor(document: vscode.CustomDocument, panel: vscode.WebviewPanel): Promise<void> {
    panel.webview.html = '<!DOCTYPE html><html><body>Opening the log as text…</body></html>';
    const column = panel.viewColumn;
    await openLogFile(document.uri, column);
    panel.dispose();
  }
}

export function registerLogFiles(): vscode.Disposable[] {
  const diagnostics = vscode.languages.createDiagnosticCollection('lockstep-log');
  const provider = new LogContentProvider(diagnostics);
  return [
    diagnostics,
    provider,
    vscode.workspace.registerTextDocumentContentProvider(LOG_SCHEME, provider),
    vscode.workspace.onDidCloseTextDocument((d) => d.uri.scheme === LOG_SCHEME && provider.forget(d.uri)),
    vscode.languages.registerCodeLensProvider({ language: LOG_LANGUAGE }, new ReplayLensProvider()),
    vscode.window.registerCustomEditorProvider(LOG_EDITOR_VIEW_TYPE, new RedirectEditorProvider(), {
      supportsMultipleEditorsPerDocument: true,
    }),
  ];
}

/** The entry under the cursor (its instruction and line), for the Replay to here command from the palette. */
export function cursorEntry(
  editor: vscode.TextEditor | undefined,
): { file: vscode.Uri; at: number; line: number } | undefined {
  if (!editor || editor.document.languageId !== LOG_LANGUAGE) return undefined;
  const line = editor.selection.active.line;
  const entry = entryLineInstruction(editor.document.lineAt(line).text);
  return entry ? { file: editor.document.uri, at: entry.at, line } : undefined;
}

/**
 * The entry line the last "Replay to here" started from, marked in its log's editors (highlighted,
 * with a note at its end) and selected there, so the log shows where the replay stands.
 */
export class ReplayMark implements vscode.Disposable {
  private readonly decoration = vscode.window.createTextEditorDecorationType({
    isWholeLine: true,
    backgroundColor: new vscode.ThemeColor('editor.rangeHighlightBackground'),
    overviewRulerColor: new vscode.ThemeColor('editorOverviewRuler.rangeHighlightForeground'),
    after: { contentText: '  \u25c0 replayed to here', color: new vscode.ThemeColor('editorCodeLens.foreground') },
  });
  private mark: { uri: string; line: number } | undefined;
  private readonly listener = vscode.window.onDidChangeVisibleTextEditors(() => this.apply());

  /**
   * Marks `line` of the log view `document`, and selects it in the editors showing it. Each is pinned: the code a
   * stop shows opens in an editor of its own, which would otherwise take the tab of a log opened as a preview.
   */
  async set(document: vscode.Uri, line: number): Promise<void> {
    this.mark = { uri: document.toString(), line };
    for (const shown of this.apply()) {
      const options = { viewColumn: shown.viewColumn, preview: false, preserveFocus: true };
      const editor = await vscode.window.showTextDocument(shown.document, options);
      const start = new vscode.Position(line, 0);
      editor.selection = new vscode.Selection(start, start);
      editor.revealRange(new vscode.Range(start, start), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    }
  }

  /** Decorates the marked line in every visible editor of its log; returns those editors. */
  private apply(): vscode.TextEditor[] {
    const mark = this.mark;
    const editors = vscode.window.visibleTextEditors.filter((e) => e.document.uri.toString() === mark?.uri);
    for (const editor of editors) {
      if (mark && mark.line < editor.document.lineCount) {
        editor.setDecorations(this.decoration, [editor.document.lineAt(mark.line).range]);
      }
    }
    return editors;
  }

  dispose(): void {
    this.listener.dispose();
    this.decoration.dispose();
  }
}
