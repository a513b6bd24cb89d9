// Host side of the logging-channel panel: the webview's HTML (with its Content Security Policy) and
// a check for the messages the webview posts. No `vscode` import, so the extension and the browser
// tests share it. The extension creates the panel with `localResourceRoots` set to PANEL_ASSET_DIR,
// turns PANEL_SCRIPT and PANEL_STYLE into webview URIs (`webview.asWebviewUri`), passes
// `webview.cspSource` and a fresh `newNonce()`, and relays `PanelInboundMessage`s to the webview.
import { randomBytes } from 'node:crypto';
import type { PanelMessage } from '../../adapter/protocol';
import { isFaultKind } from '../../ft/cluster/faults'; // the file, not the folder's index: it imports nothing

/** Build outputs (scripts/build.mjs), relative to the extension's root. */
export const PANEL_ASSET_DIR = 'dist/panel';
export const PANEL_SCRIPT = 'dist/panel/panel.js';
export const PANEL_STYLE = 'dist/panel/panel.css';

export interface PanelHtmlOptions {
  scriptUri: string;
  styleUri: string;
  /** `webview.cspSource`: where the panel's own files are served from. */
  cspSource: string;
  /** Fresh for every HTML document; see newNonce(). */
  nonce: string;
  title?: string;
}

/** 128 random bits, base64: what CSP nonces should be. */
export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

/** For text and double-quoted attribute values. */
const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

/**
 * Only the panel's own script (by nonce) and the extension's own style sheet and font run; nothing
 * remote, no inline styles or scripts, no eval. The panel sets positions and sizes through the CSSOM
 * (element.style.x = ...), which style-src does not restrict.
 */
export function panelCsp(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${cspSource}`,
    `font-src ${cspSource}`,
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

export function panelHtml(options: PanelHtmlOptions): string {
  const { scriptUri, styleUri, cspSource, nonce } = options;
  // Anything else could break out of the CSP's quotes or the attribute.
  if (!/^[A-Za-z0-9+/_-]+=*$/.test(nonce)) throw new Error('panelHtml: the nonce must be base64');
  // VS Code on the web (code-server) gives "'self' https://*.vscode-cdn.net": 'self' is the one quoted source allowed.
  if (/[;,'"<>\r\n]/.test(cspSource.replace(/'self'/g, ''))) throw new Error('panelHtml: cspSource must be a list of sources');
  const title = escapeHtml(options.title ?? 'Lockstep: logging channel');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(panelCsp(cspSource, nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="${escapeHtml(styleUri)}">
</head>
<body>
<main id="lockstep-panel" aria-label="${title}"></main>
<script nonce="${nonce}" src="${escapeHtml(scriptUri)}"></script>
</body>
</html>
`;
}

/** A webview is a page like any other: check what it posts before acting on it. */
export function isPanelMessage(value: unknown): value is PanelMessage {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  switch (m.type) {
    case 'ready':
    case 'failover':
      return true;
    case 'goToInstruction':
      return finite(m.instruction) && (m.instruction as number) >= 0 && Number.isInteger(m.instruction);
    case 'fault':
      return isFaultKind(m.kind) && (m.value === undefined || finite(m.value));
    default:
      return false;
  }
}
