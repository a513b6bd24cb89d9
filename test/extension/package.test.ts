// The extension's manifest and package: the launch schema VS Code shows is the adapter's, every
// contributed command is implemented, and the .vsix holds exactly the files the extension loads
// (`vsce ls`, as `npm run package` packs them). Needs the build (npm test builds first).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import launchSchema from '../../src/adapter/launchSchema.json';

const ROOT = join(__dirname, '../..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/** What the .vsix may contain: the manifest and docs, the bundles and what they load beside them. */
const ALLOWED = [
  'package.json', 'README.md', 'LICENSE', 'media/icon.png', 'docs/images/panel-failover.png',
  'dist/extension.js', 'dist/cli.js', 'dist/ackthread.js', 'dist/dap.js', 'dist/v86.wasm', 'dist/iced_x86_bg.wasm',
  'dist/guests/bootsector.img', 'dist/guests/kv.elf', 'dist/guests/lock.elf', 'dist/guests/spin.elf', 'dist/guests/ticker.elf',
  'dist/panel/panel.js', 'dist/panel/panel.css', 'dist/panel/codicon.ttf',
  'syntaxes/ftlog.tmLanguage.json', 'syntaxes/ftlog.language-configuration.json',
];

describe('extension package', () => {
  it('contributes the adapter launch schema unchanged (run scripts/sync-launch-schema.mjs after changing it)', () => {
    const lockstep = pkg.contributes.debuggers.find((d: { type: string }) => d.type === 'lockstep');
    assert.deepEqual(lockstep.configurationAttributes, { launch: launchSchema });
  });

  it('its initial configurations and snippets are valid launch configurations', () => {
    const lockstep = pkg.contributes.debuggers.find((d: { type: string }) => d.type === 'lockstep');
    const bodies = [
      ...lockstep.initialConfigurations,
      ...lockstep.configurationSnippets.map((s: { body: object }) => s.body),
    ];
    const known = new Set([...Object.keys(launchSchema.properties), 'type', 'request', 'name']);
    for (const body of bodies) for (const key of Object.keys(body)) assert.ok(known.has(key), `${key} in ${JSON.stringify(body)}`);
    assert.deepEqual(lockstep.configurationSnippets.map((s: { label: string }) => s.label), ['Lockstep: FT pair on the kv guest', 'Lockstep: replay a log file']);
  });

  it('accepts VS Code 1.100 and declares every command in the Lockstep category, each one registered', () => {
    assert.match(pkg.engines.vscode, /^\^1\.100\./);
    const source = readFileSync(join(ROOT, 'src/extension/commands.ts'), 'utf8');
    for (const c of pkg.contributes.commands) {
      assert.equal(c.category, 'Lockstep', c.command);
      assert.ok(source.includes(`'${c.command}'`), `${c.command} is not registered in commands.ts`);
    }
    const titles = pkg.contributes.commands.map((c: { title: string }) => c.title);
    for (const t of ['Start FT session', 'Go to instruction…', 'Trigger failover', 'Inject fault…', 'Open logging channel', 'Record log to file', 'Open log file']) {
      assert.ok(titles.includes(t), t);
    }
  });

  it('vsce ls lists exactly the allowed files', function () {
    this.timeout(60_000);
    assert.ok(existsSync(join(ROOT, 'dist/extension.js')), 'build first (npm run build)');
    const vsce = join(ROOT, 'node_modules/@vscode/vsce/vsce');
    const listed = execFileSync(process.execPath, [vsce, 'ls', '--no-dependencies'], { cwd: ROOT, encoding: 'utf8' })
      .split('\n').map((l) => l.trim()).filter(Boolean);
    assert.deepEqual([...listed].sort(), [...ALLOWED].sort());
  });
});
