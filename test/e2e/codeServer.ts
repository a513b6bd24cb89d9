// A real VS Code for the end-to-end suite: code-server (installed under .e2e/ by
// scripts/install-e2e.sh) with the packaged .vsix installed into a fresh profile, served on
// 127.0.0.1 and opened in Debian's headless Chromium through playwright-core.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { freePort } from '../support/cluster';

export const ROOT = resolve(__dirname, '../..');
export const CODE_SERVER = join(ROOT, '.e2e/node_modules/code-server/out/node/entry.js');
export const VSIX = join(ROOT, 'lockstep.vsix');
export const ARTIFACTS = join(ROOT, 'test-artifacts/e2e');

/** Chromium as shared/design.md runs it here. */
const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export interface CodeServerOptions {
  /** Written to the workspace's .vscode/launch.json. */
  launch: object;
  /** User settings added to the defaults below. */
  settings?: Record<string, unknown>;
  env?: Record<string, string>;
}

export class CodeServer {
  readonly dir = mkdtempSync(join(tmpdir(), 'lockstep-e2e-'));
  readonly workspace = join(this.dir, 'workspace');
  private process: ChildProcess | undefined;
  private browser: Browser | undefined;
  readonly log: string[] = [];
  readonly browserLog: string[] = [];
  port = 0;

  constructor(private readonly options: CodeServerOptions) {}

  private args(): string[] {
    return ['--user-data-dir', join(this.dir, 'data'), '--extensions-dir', join(this.dir, 'extensions'), '--config', join(this.dir, 'config.yaml')];
  }

  /** A profile with the .vsix installed, a workspace with launch.json, and trust prompts off. */
  prepare(): void {
    if (!existsSync(CODE_SERVER)) throw new Error(`code-server is not installed: run bash scripts/install-e2e.sh (looked for ${CODE_SERVER})`);
    if (!existsSync(VSIX)) throw new Error(`no ${VSIX}: run npm run package`);
    mkdirSync(join(this.workspace, '.vscode'), { recursive: true });
    writeFileSync(join(this.workspace, '.vscode/launch.json'), JSON.stringify(this.options.launch, null, 2));
    mkdirSync(join(this.dir, 'data/User'), { recursive: true });
    writeFileSync(join(this.dir, 'config.yaml'), 'auth: none\n');
    writeFileSync(this.settingsFile, JSON.stringify({
      'security.workspace.trust.enabled': false,
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'workbench.welcomePage.walkthroughs.openOnInstall': false,
      'extensions.ignoreRecommendations': true,
      'update.mode': 'none',
      'window.commandCenter': false,
      'chat.commandCenter.enabled': false,
      'workbench.colorTheme': 'Default Dark Modern',
      // Text the test types into editors stays as typed.
      'editor.autoClosingBrackets': 'never',
      'editor.autoClosingQuotes': 'never',
      'editor.autoIndent': 'none',
      'editor.autoSurround': 'never',
      'editor.suggestOnTriggerCharacters': false,
      'editor.quickSuggestions': { other: false, comments: false, strings: false },
      // The DOM renderer keeps the terminal's text in the page, where the test reads it.
      'terminal.integrated.gpuAcceleration': 'off',
      ...this.options.settings,
    }, null, 2));
    const install = spawnSync(process.execPath, [CODE_SERVER, ...this.args(), '--install-extension', VSIX], { encoding: 'utf8' });
    if (install.status !== 0 || !/successfully installed/.test(install.stdout)) throw new Error(`installing the .vsix failed:\n${install.stdout}\n${install.stderr}`);
  }

  private get settingsFile(): string {
    return join(this.dir, 'data/User/settings.json');
  }

  /** The user settings as saved. */
  settings(): Record<string, unknown> {
    return JSON.parse(readFileSync(this.settingsFile, 'utf8')) as Record<string, unknown>;
  }

  async start(): Promise<void> {
    this.port = await freePort();
    const args = [CODE_SERVER, ...this.args(), '--auth', 'none', '--bind-addr', `127.0.0.1:${this.port}`, '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override', this.workspace];
    const child = spawn(process.execPath, args, { env: { ...process.env, ...this.options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    child.stdout!.on('data', (c: Buffer) => this.log.push(c.toString()));
    child.stderr!.on('data', (c: Buffer) => this.log.push(c.toString()));
    const deadline = Date.now() + 60_000;
    while (!this.log.join('').includes('HTTP server listening')) {
      if (child.exitCode !== null) throw new Error(`code-server exited: ${this.log.join('')}`);
      if (Date.now() > deadline) throw new Error(`code-server did not start: ${this.log.join('')}`);
      await new Promise((ok) => setTimeout(ok, 100));
    }
  }

  async open(): Promise<Page> {
    this.browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
    const page = await this.browser.newPage({ viewport: { width: 1600, height: 1000 } });
    // The browser side's console (webviews included), for the artifacts.
    page.on('console', (m) => this.browserLog.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => this.browserLog.push(`[pageerror] ${e.message}`));
    await page.goto(`http://127.0.0.1:${this.port}/?folder=${encodeURIComponent(this.workspace)}`);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    return page;
  }

  async stop(): Promise<void> {
    mkdirSync(ARTIFACTS, { recursive: true });
    await this.browser?.close().catch(() => undefined);
    const child = this.process;
    if (child && child.exitCode === null) {
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((ok) => setTimeout(ok, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    // VS Code's own logs (the extension host's among them) are artifacts too.
    const logs = join(this.dir, 'data/logs');
    if (existsSync(logs)) cpSync(logs, join(ARTIFACTS, 'logs'), { recursive: true });
    writeFileSync(join(ARTIFACTS, 'code-server.log'), this.log.join(''));
    writeFileSync(join(ARTIFACTS, 'browser-console.log'), this.browserLog.join('\n'));
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

let shot = 0;
/** A numbered full-page screenshot under test-artifacts/e2e/. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, `${String(++shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file });
  return file;
}
