// The benchmarks must not rot: run `npm run bench -- --smoke` (every benchmark once, on tiny inputs)
// as a child process and check that every row came out with finite numbers, or was skipped with a
// reason (a peer such as QEMU that is not installed). Nothing here looks at speed.
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Results, Row } from '../../bench/harness';
import { BENCHMARKS } from '../../bench/registry';

const REPO = join(__dirname, '..', '..');

function isFiniteNumber(x: unknown): boolean {
  return typeof x === 'number' && Number.isFinite(x);
}

describe('benchmarks (smoke mode)', function () {
  this.timeout(300_000);
  let out: string;
  let results: Results;
  let stderr = '';

  before(async () => {
    out = mkdtempSync(join(tmpdir(), 'lockstep-bench-smoke-'));
    const code = await new Promise<number | null>((resolve) => {
      const child = execFile(
        process.execPath,
        ['--expose-gc', '--import', 'tsx', join('bench', 'main.ts'), '--smoke', '--out', out],
        { cwd: REPO, maxBuffer: 64 * 1024 * 1024, timeout: 280_000 },
        (error) => resolve(error ? ((error as { code?: number }).code ?? null) : 0),
      );
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    });
    assert.equal(code, 0, `bench --smoke exited with ${code}:\n${stderr.slice(-3000)}`);
    results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results;
  });

  after(() => rmSync(out, { recursive: true, force: true }));

  it('writes results.md and results.json with the machine', () => {
    assert.match(readFileSync(join(out, 'results.md'), 'utf8'), /\| benchmark \| value \|/);
    assert.equal(results.smoke, true);
    assert.ok(results.machine.cores >= 1 && results.machine.cpuModel && results.machine.node.startsWith('v'));
  });

  it('every registered benchmark produces rows', () => {
    for (const bench of BENCHMARKS) {
      assert.ok(results.rows.some((row) => row.bench === bench.name), `${bench.name} produced no row`);
    }
  });

  it('every row has finite numbers or says why it was skipped', () => {
    const bad = results.rows.filter((row: Row) => {
      if (row.error !== undefined) return true;
      if (row.skipped !== undefined) return row.skipped.trim().length === 0;
      if (!isFiniteNumber(row.value) || !(row.runs >= 1)) return true;
      if (row.baseline !== null && !(isFiniteNumber(row.baseline) && isFiniteNumber(row.ratio))) return true;
      return !row.date || !row.machine || !row.unit;
    });
    assert.deepEqual(bad.map((row) => `${row.bench}: ${row.name}: ${row.error ?? row.skipped ?? JSON.stringify(row)}`), []);
  });
});
