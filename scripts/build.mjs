// Bundles the CLI (and later the extension) with esbuild; v86's wasm is copied beside the bundle.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const v86Build = join(dirname(require.resolve('v86/package.json')), 'build');
mkdirSync('dist', { recursive: true });
copyFileSync(join(v86Build, 'v86.wasm'), 'dist/v86.wasm');

const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, logLevel: 'warning' };
await build({ ...common, entryPoints: { cli: 'src/cli.ts' }, outdir: 'dist', banner: { js: '#!/usr/bin/env node' } });
