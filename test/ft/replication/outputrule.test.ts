import { strict as assert } from 'node:assert';
import type { OutputEntry } from '../../../src/ft/log';
import { HeldOutput, OutputRule } from '../../../src/ft/replication';

/** Output marker `seq` at count `at` with one serial byte. */
const marker = (seq: number, at: number, n: number): OutputEntry => ({ kind: 'output', seq, at, device: 'serial', data: Uint8Array.of(n) });

describe('the Output Rule (src/ft/replication/outputrule.ts)', () => {
  it('holds each output until the ack covers its seq, then releases in seq order', () => {
    const sent: number[] = [];
    const rule = new OutputRule((output: HeldOutput) => sent.push(output.seq));
    rule.produce(marker(3, 100, 1));
    rule.produce(marker(5, 200, 2));
    rule.produce(marker(8, 300, 3));
    assert.deepEqual(sent, []);
    assert.equal(rule.holding, 3);
    rule.acknowledge(4);
    assert.deepEqual(sent, [3]);
    rule.acknowledge(2); // an older ack changes nothing
    rule.acknowledge(8);
    assert.deepEqual(sent, [3, 5, 8]);
    assert.equal(rule.holding, 0);
    rule.produce(marker(7, 400, 4)); // already covered by the ack: out at once
    assert.deepEqual(sent, [3, 5, 8, 7]);
    assert.equal(rule.released, 4);
  });

  it('holds outputs made after the instruction a debugger shows, acked or not, until it gets there', () => {
    const sent: number[] = [];
    let shown = 150;
    const rule = new OutputRule((output) => sent.push(output.seq), () => shown);
    rule.produce(marker(1, 100, 1));
    rule.produce(marker(2, 200, 2));
    rule.acknowledge(2);
    assert.deepEqual(sent, [1]);
    rule.unprotect(); // no backup either: still not past the instruction shown
    rule.produce(marker(3, 120, 3)); // behind the one waiting: releases stay in seq order
    assert.deepEqual(sent, [1]);
    shown = 200;
    rule.reveal();
    assert.deepEqual(sent, [1, 2, 3]);
  });

  it('releases everything held when there is no backup to wait for, and waits again once protected', () => {
    const sent: number[] = [];
    const rule = new OutputRule((output) => sent.push(output.seq));
    rule.produce(marker(1, 10, 1));
    rule.unprotect();
    rule.produce(marker(2, 20, 2));
    assert.deepEqual(sent, [1, 2]);
    rule.protect(2);
    rule.produce(marker(3, 30, 3));
    assert.deepEqual(sent, [1, 2]);
    rule.acknowledge(3);
    assert.deepEqual(sent, [1, 2, 3]);
  });

  it('keeps the delays of the latest 10 000 releases only, so a long-running service does not grow', () => {
    const rule = new OutputRule(() => undefined);
    rule.unprotect();
    for (let seq = 1; seq <= 10_005; seq++) rule.produce(marker(seq, seq, seq & 0xff));
    assert.equal(rule.released, 10_005);
    assert.equal(rule.latestDelays(20_000).length, 10_000);
    assert.equal(rule.latestDelays(3).length, 3);
    assert.equal(rule.delayOf(4), undefined, 'the 5th release is no longer kept');
    for (const k of [5, 10_004]) assert.ok(rule.delayOf(k)! >= 0, `release ${k} is kept`);
    assert.equal(rule.delayOf(10_005), undefined, 'not released yet');
  });
});
