// Copies the adapter's launch schema (src/adapter/launchSchema.json, the one description of the
// launch attributes) into package.json's contributes.debuggers, where VS Code reads it for
// launch.json. test/extension/package.test.ts fails when the two differ.
//   node scripts/sync-launch-schema.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const schema = JSON.parse(readFileSync('src/adapter/launchSchema.json', 'utf8'));
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const debuggerEntry = pkg.contributes.debuggers.find((d) => d.type === 'lockstep');
debuggerEntry.configurationAttributes = { launch: schema };
writeFileSync('package.json', `${JSON.stringify(pkg, null, 2)}\n`);
