// The panel's webview in a real, headless Chromium (Debian's, driven by playwright-core): served
// with the HTML and CSP the extension gives it, a stand-in for VS Code's acquireVsCodeApi that
// records what the panel posts, and VS Code's theme variables applied the way VS Code applies them.
// `panelPages()` registers the hooks in the describe it is called in and returns the helpers.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { PanelInboundMessage, PanelMessage } from '../../src/adapter/protocol';
import { newNonce, panelHtml } from '../../src/extension/panel/html';

const CHROMIUM = '/usr/bin/chromium';
// shared/design.md, "Testing with real parts".
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ROOT = join(__dirname, '..', '..');
const DIST = join(ROOT, 'dist', 'panel');
export const ARTIFACTS = join(ROOT, 'test-artifacts');
export const FIXTURES = join(__dirname, '..', 'fixtures');

export type Theme = 'light' | 'dark' | 'high-contrast';
export const THEMES: Theme[] = ['light', 'dark', 'high-contrast'];
const BODY_CLASS: Record<Theme, string> = { light: 'vscode-light', dark: 'vscode-dark', 'high-contrast': 'vscode-high-contrast' };

/** `--name: value;` pairs of a theme fixture. */
export function themeVariables(theme: Theme): [string, string][] {
  const css = readFileSync(join(FIXTURES, 'themes', `${theme}.css`), 'utf8');
  return [...css.matchAll(/(--vscode-[\w-]+)\s*:\s*([^;]+);/g)].map((m) => [m[1], m[2].trim()]);
}

declare global {
  interface Window {
    __posted: PanelMessage[];
    __violations: string[];
  }
}

export function panelPages() {
  let browser: Browser;
  let server: Server;
  let origin = '';
  let nonce = '';
  const pages: { page: Page; problems: string[] }[] = [];

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      console.log(`      skipped: ${CHROMIUM} is missing (apt-get install -y chromium; scripts/install-test-deps.sh does it as root)`);
      this.skip();
    }
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), 'panel'], { cwd: ROOT, stdio: 'inherit' });
    mkdirSync(ARTIFACTS, { recursive: true });
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/') {
        nonce = newNonce();
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(panelHtml({ scriptUri: `${origin}/panel.js`, styleUri: `${origin}/panel.css`, cspSource: origin, nonce }));
        return;
      }
      const file = join(DIST, path.slice(1));
      if (!/^\/[\w.-]+$/.test(path) || !existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      const types: Record<string, string> = { '.js': 'text/javascript', '.css': 'text/css', '.ttf': 'font/ttf', '.map': 'application/json' };
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
      res.end(readFileSync(file));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  });

  after(async () => {
    await browser?.close();
    server?.close();
  });

  afterEach(async () => {
    for (const { page, problems } of pages.splice(0)) {
      const violations = await page.evaluate(() => window.__violations).catch(() => []);
      await page.close();
      assert.deepEqual([...problems, ...violations], [], 'no console errors, page errors, failed requests or CSP violations');
    }
  });

  /** The panel in a fresh page, themed like VS Code does it: variables on <html>, a class on <body>. */
  async function openPanel(theme: Theme, viewport = { width: 1280, height: 860 }): Promise<Page> {
    const page = await browser.newPage({ viewport, deviceScaleFactor: 1 });
    const problems: string[] = [];
    pages.push({ page, problems });
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
    page.on('request', (r) => { if (!r.url().startsWith(origin)) problems.push(`remote request: ${r.url()}`); });
    // VS Code's acquireVsCodeApi, recording what the panel posts. A string: functions the test
    // compiler touched may call its helpers, which the page does not have.
    await page.addInitScript({ content: `
      window.__posted = [];
      window.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ': ' + e.blockedURI));
      let acquired = false;
      window.acquireVsCodeApi = () => {
        if (acquired) throw new Error('acquireVsCodeApi may be called once');
        acquired = true;
        // VS Code keeps a webview's state across reloads of its page: so does sessionStorage.
        const stored = sessionStorage.getItem('vscode-state');
        return {
          postMessage: (m) => { window.__posted.push(m); },
          getState: () => (stored === null ? undefined : JSON.parse(stored)),
          setState: (s) => { sessionStorage.setItem('vscode-state', JSON.stringify(s)); return s; },
        };
      };` });
    await page.goto(`${origin}/`);
    await page.evaluate(({ variables, bodyClass }) => {
      for (const [name, value] of variables) document.documentElement.style.setProperty(name, value);
      document.body.className = bodyClass;
      document.body.dataset.vscodeThemeKind = bodyClass;
    }, { variables: themeVariables(theme), bodyClass: BODY_CLASS[theme] });
    await settle(page);
    return page;
  }

  /** Delivers messages as VS Code does (message events on the window), then lets the panel draw. */
  async function send(page: Page, list: PanelInboundMessage[]): Promise<void> {
    await page.evaluate((list) => { for (const data of list) window.dispatchEvent(new MessageEvent('message', { data })); }, list);
    await settle(page);
  }

  /** Two animation frames: the panel has drawn what it was sent. */
  const settle = (page: Page) => page.evaluate(() => new Promise<void>((resolve) => {
    requestAnimationFrame(() => requestAnimationFrame(() => resolve()));
  }));
  const posted = (page: Page) => page.evaluate(() => window.__posted);
  const rowCount = (page: Page, grid: string) => page.locator(`#${grid} .grid-spacer [role=row]`).count();

  /** Row `index` of a grid is in the DOM and fully inside the grid's scrolled view. */
  async function rowVisible(page: Page, grid: string, index: number): Promise<boolean> {
    return page.evaluate(({ grid, index }) => {
      const row = document.getElementById(`${grid}-row-${index}`);
      const view = document.querySelector(`#${grid} .grid-viewport`);
      if (!row || !view) return false;
      const r = row.getBoundingClientRect();
      const v = view.getBoundingClientRect();
      return r.top >= v.top - 0.5 && r.bottom <= v.bottom + 0.5 && r.height > 0;
    }, { grid, index });
  }

  return {
    openPanel,
    send,
    settle,
    posted,
    rowCount,
    rowVisible,
    /** Where the panel is served from, and the nonce of the page served last. */
    get origin() { return origin; },
    get nonce() { return nonce; },
    /** Pages open in this test, with the problems seen so far (checked after each test). */
    pages,
  };
}
