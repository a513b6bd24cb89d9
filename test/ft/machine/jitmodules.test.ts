import { strict as assert } from 'node:assert';
import { JitModules, jitModules, loadHasher, loadImage, Machine, Recorder } from '../../../src/ft/machine';
import { TEST_EPOCH } from '../../support/guests';

/** The smallest valid module (8 bytes), optionally with an empty custom section named `name`. */
function wasm(name = ''): Uint8Array<ArrayBuffer> {
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (!name) return new Uint8Array(header);
  const section = [0x00, name.length + 1, name.length, ...Buffer.from(name)];
  return new Uint8Array([...header, ...section]);
}

describe('JIT modules compiled once per content', () => {
  before(loadHasher);

  it('the same bytes, in another buffer, get the module compiled before', () => {
    const modules = new JitModules();
    const first = modules.compile(wasm('a'));
    assert.equal(modules.compile(wasm('a')), first);
    assert.equal(modules.reused, 1);
  });

  it('other bytes get a module of their own', () => {
    const modules = new JitModules();
    assert.notEqual(modules.compile(wasm('a')), modules.compile(wasm('b')));
    assert.equal(modules.reused, 0);
  });

  it('bytes changed after compiling do not change what is kept', () => {
    const modules = new JitModules();
    const bytes = wasm('a');
    const first = modules.compile(bytes);
    bytes[bytes.length - 1] = 'b'.charCodeAt(0);
    assert.equal(modules.compile(wasm('a')), first);
    assert.notEqual(modules.compile(bytes), first);
  });

  it('starts over when the kept bytes would pass its budget', () => {
    const modules = new JitModules(wasm('a').length + wasm('b').length - 1);
    const first = modules.compile(wasm('a'));
    modules.compile(wasm('b'));
    assert.notEqual(modules.compile(wasm('a')), first, 'compiled anew after starting over');
  });

  it('a machine restored from a snapshot reuses the modules its JIT state names, without compiling them again', async () => {
    const machine = await Machine.create({ image: loadImage('spin'), nondet: new Recorder(() => {}), epochLength: TEST_EPOCH, cmdline: 'iterations=3000000' });
    machine.run(5 * TEST_EPOCH);
    const snapshot = machine.snapshot();
    const before = jitModules.reused;
    machine.restoreFrom(snapshot);
    machine.destroy();
    assert.ok(jitModules.reused > before, 'no module was reused by the restore');
  });
});
