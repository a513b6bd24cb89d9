import { strict as assert } from 'node:assert';
import { FaultError, parseFault } from '../../../src/ft/cluster';

describe('--fault parsing (src/ft/cluster/faults.ts)', () => {
  it('reads each kind', () => {
    assert.deepEqual(parseFault('kill-primary@150000000'), { kind: 'kill-primary', when: { instructions: 150_000_000 } });
    assert.deepEqual(parseFault('kill-backup@500ms'), { kind: 'kill-backup', when: { ms: 500 } });
    assert.deepEqual(parseFault('partition@2s'), { kind: 'partition', when: { ms: 2000 } });
    assert.deepEqual(parseFault('drop@0.01'), { kind: 'drop', rate: 0.01 });
    assert.deepEqual(parseFault('delay@5'), { kind: 'delay', ms: 5 });
    assert.deepEqual(parseFault('drop-entry@5'), { kind: 'drop-entry', seq: 5 });
    assert.deepEqual(parseFault(`drop-entry@${Number.MAX_SAFE_INTEGER}`), { kind: 'drop-entry', seq: Number.MAX_SAFE_INTEGER });
  });

  it('drop-entry takes a log entry number: a whole number from 1', () => {
    for (const seq of ['0', '-1', '1.5', '1e3', '0x10', ' 5', 'five', '', '9007199254740992']) {
      assert.throws(() => parseFault(`drop-entry@${seq}`), (error: Error) => {
        assert.ok(error instanceof FaultError);
        assert.equal(error.message, `--fault drop-entry@${seq}: '${seq}' is not a log entry number (a whole number from 1 to 9007199254740991)`);
        return true;
      });
    }
    assert.throws(() => parseFault('drop-entry'), /--fault drop-entry: say when or how much, e\.g\. drop-entry@5/);
  });

  it('names the kinds when it does not know one', () => {
    assert.throws(() => parseFault('drop-frame@5'), /unknown fault 'drop-frame' \(one of .*drop-entry/);
  });
});
