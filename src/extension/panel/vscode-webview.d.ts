// What VS Code gives a webview's scripts (once per page).
interface VsCodeWebviewApi<State = unknown> {
  postMessage(message: unknown): void;
  getState(): State | undefined;
  setState(state: State): State;
}

declare function acquireVsCodeApi<State = unknown>(): VsCodeWebviewApi<State>;
