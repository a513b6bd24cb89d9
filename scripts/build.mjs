// Bundles the CLI and the VS Code extension with esbuild. What they load at run time is copied beside
// the bundles, where src/ft/v86wasm.ts and src/ft/image.ts look first: v86's wasm and the built-in
// guest images (so the packaged extension needs no node_modules and no guests/ folder).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const v86Build = join(dirname(require.resolve('v86/package.json')), 'build');
mkdirSync('dist/guests', { recursive: true });
copyFileSync(join(v86Build, 'v86.wasm'), 'dist/v86.wasm');
for (const image of readdirSync('guests/images')) copyFileSync(join('guests/images', image), join('dist/guests', image));

const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, logLevel: 'warning' };
await build({ ...common, entryPoints: { cli: 'src/cli.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } });
// The extension host provides `vscode`; everything else, the adapter and the FT core included, is bundled.
await build({ ...common, entryPoints: { extension: 'src/extension/extension.ts' }, outdir: 'dist', external: ['vscode'] });
