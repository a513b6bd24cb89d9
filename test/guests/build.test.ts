// Rebuilds the built-in guests from source and checks that the shipped
// images in guests/images are exactly what the sources produce.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const IMAGES = ['spin.elf', 'kv.elf', 'lock.elf', 'ticker.elf', 'scatter.elf', 'pager.elf', 'bootsector.img'];

function repoRoot(): string {
  let dir = process.cwd();
  for (;;) {
    if (fs.existsSync(path.join(dir, 'guests', 'build.sh'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('guests/build.sh not found above ' + process.cwd());
    dir = up;
  }
}

function hasGcc(): boolean {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('guests/build.sh', function () {
  this.timeout(120_000);

  it('rebuilds every shipped guest image byte for byte', function () {
    if (!hasGcc()) {
      console.log('    (skipped: gcc is not installed, cannot rebuild the guests)');
      this.skip();
    }
    const root = repoRoot();
    const shipped = path.join(root, 'guests', 'images');
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'lockstep-guests-'));
    try {
      execFileSync('bash', [path.join(root, 'guests', 'build.sh'), out], { stdio: 'pipe' });
      const built = fs.readdirSync(out).sort();
      assert.deepEqual(built, [...IMAGES].sort(), 'build.sh built an unexpected set of images');
      for (const name of IMAGES) {
        const want = path.join(shipped, name);
        assert.ok(fs.existsSync(want), `shipped image guests/images/${name} is missing`);
        const a = fs.readFileSync(path.join(out, name));
        const b = fs.readFileSync(want);
        assert.ok(
          a.equals(b),
          `guests/images/${name} differs from a fresh build (${a.length} vs ${b.length} bytes): ` +
            'rebuild with guests/build.sh and commit the images',
        );
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
