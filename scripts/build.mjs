// Bundles the CLI and the VS Code extension with esbuild. What they load at run time is copied beside
// the bundles, where src/ft/machine/v86wasm.ts and src/ft/machine/image.ts look first: v86's wasm,
// iced-x86's, the built-in guest images (so the packaged extension needs no node_modules and no guests/
// folder).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

// `node scripts/build.mjs [cli] [extension] [panel]` builds only those; all of them by default.
const only = process.argv.slice(2);
const wanted = (name) => only.length === 0 || only.includes(name);

const require = createRequire(import.meta.url);
const v86Build = join(dirname(require.resolve('v86/package.json')), 'build');
mkdirSync('dist/guests', { recursive: true });
copyFileSync(join(v86Build, 'v86.wasm'), 'dist/v86.wasm');
// iced-x86 (the adapter's disassembler) reads its wasm from beside whatever bundled it.
copyFileSync(join(dirname(require.resolve('iced-x86/package.json')), 'iced_x86_bg.wasm'), 'dist/iced_x86_bg.wasm');
// scatter.elf and pager.elf test the JIT's state and its exits in paged code (guests/README.md): not guests to ship.
const TEST_ONLY = new Set(['scatter.elf', 'pager.elf']);
for (const image of readdirSync('guests/images').filter((name) => !TEST_ONLY.has(name))) {
  copyFileSync(join('guests/images', image), join('dist/guests', image));
}

// etcd3 (the etcd coordinator's client, loaded only when one opens) reads its .proto files from its own package.
const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, logLevel: 'warning', external: ['etcd3'] };
// The backup's ack thread (src/ft/channel/ackthread.ts) runs in a worker of its own, loaded from beside the CLI;
// so is the debug adapter (`lockstep dap` only): with its disassembler it is half the code, which every other
// command would read and compile at start-up for nothing (the .vsix ships it for the CLI it ships; the extension
// itself runs its adapter inline).
if (wanted('cli')) {
  await build({
    ...common,
    entryPoints: { cli: 'src/cli.ts', ackthread: 'src/ft/channel/ackthread.ts', dap: 'src/adapter/server.ts' },
    outdir: 'dist',
    banner: { js: '#!/usr/bin/env node' },
  });
}
// The extension host provides `vscode`; everything else, the adapter and the FT core included, is bundled.
// Minified: the telemetry SDK alone is over 1 MB of readable source, and the .vsix should stay small.
if (wanted('extension')) await build({ ...common, entryPoints: { extension: 'src/extension/extension.ts' }, outdir: 'dist', external: ['vscode', 'etcd3'], minify: true });
// The logging-channel panel runs in a webview: a browser bundle (script + style sheet, the codicon
// font beside them) that the extension serves from dist/panel under a strict CSP.
if (wanted('panel')) await build({
  bundle: true, platform: 'browser', target: 'chrome120', format: 'iife', sourcemap: true, minify: true, logLevel: 'warning',
  entryPoints: [{ in: 'src/extension/panel/main.ts', out: 'panel' }, { in: 'src/extension/panel/panel.css', out: 'panel' }],
  outdir: 'dist/panel', loader: { '.ttf': 'file' }, assetNames: '[name]',
});
