import { strict as assert } from 'node:assert';
import { ViewService, type Ping, type View } from '../../../src/ft/view';

const INTERVAL = 100;
const DEAD_PINGS = 5;
const DEAD_AFTER = INTERVAL * DEAD_PINGS;

/** A view service and a clock; `ping` sends from a server with what it knows. */
function service(backups = 1) {
  const vs = new ViewService({ pingIntervalMs: INTERVAL, deadPings: DEAD_PINGS, backups });
  let now = 0;
  const ping = (server: string, viewNumber: number, initialised = false, position = 0): View =>
    vs.ping({ server, viewNumber, initialised, position } satisfies Ping, now);
  /** Every server in `alive` pings with the current view each interval for `ms`. */
  const run = (ms: number, alive: Record<string, { initialised?: boolean; position?: number }>): View => {
    for (let end = now + ms; now < end; now += INTERVAL) {
      for (const [server, state] of Object.entries(alive)) {
        ping(server, vs.view.number, state.initialised ?? false, state.position ?? 0);
      }
      vs.tick(now);
    }
    return vs.view;
  };
  return { vs, ping, run, advance: (ms: number) => vs.tick(now += ms) };
}

const shape = (view: View) => ({ number: view.number, primary: view.primary, backups: [...view.backups] });

describe('the view service (src/ft/view/viewservice.ts), by the lab\'s rules (seed 003)', () => {
  it('makes the first server to ping the primary of view 1, with no backup', () => {
    const { ping } = service();
    assert.deepEqual(shape(ping('s1', 0)), { number: 1, primary: 's1', backups: [] });
  });

  it('could promote (canPromote) only a live backup that said it is initialised in its role', () => {
    const { vs, ping, run, advance } = service();
    ping('s1', 0);
    ping('s1', 1);
    ping('s2', 0);
    assert.equal(vs.canPromote, false, 'named backup in view 2, not yet cloned');
    ping('s2', 1, true);
    assert.equal(vs.canPromote, false, 'initialised, but in a ping sent before it knew view 2');
    run(INTERVAL, { s1: {}, s2: { initialised: true } });
    assert.equal(vs.canPromote, true);
    advance(DEAD_AFTER);
    assert.equal(vs.canPromote, false, 'dead backups are promoted by no one');
  });

  it('could promote no one while the primary has not acknowledged the view (its death then blocks every change)', () => {
    const { vs, ping, advance } = service();
    ping('s1', 0);
    ping('s1', 1);
    ping('s2', 0);
    ping('s2', 2, true);
    assert.equal(vs.canPromote, false, 's2 initialised in view 2, which s1 has not acknowledged');
    ping('s1', 2);
    assert.equal(vs.canPromote, true);
    ping('s3', 0);
    advance(DEAD_AFTER - INTERVAL);
    ping('s2', 2, true);
    ping('s3', 0);
    advance(INTERVAL);
    assert.equal(vs.view.primary, 's2', 'acknowledged: s1 dead, s2 promoted');
  });

  it('adds an idle server as backup only after the primary acknowledged view 1', () => {
    const { ping } = service();
    ping('s1', 0);
    assert.deepEqual(shape(ping('s2', 0)), { number: 1, primary: 's1', backups: [] }, 'view 1 not yet acknowledged');
    ping('s1', 1);
    assert.deepEqual(shape(ping('s2', 0)), { number: 2, primary: 's1', backups: ['s2'] });
  });

  it('promotes the previous backup when the primary misses its pings, and fills the backup from the idle', () => {
    const { vs, run } = service();
    run(INTERVAL * 3, { s1: {}, s2: { initialised: true }, s3: {} });
    assert.deepEqual(shape(vs.view), { number: 2, primary: 's1', backups: ['s2'] });
    assert.deepEqual(vs.idle, ['s3']);
    run(DEAD_AFTER + INTERVAL, { s2: { initialised: true }, s3: {} });
    assert.deepEqual(shape(vs.view), { number: 3, primary: 's2', backups: ['s3'] });
  });

  it('never makes an idle server primary, even when it is the only one left', () => {
    const { vs, run } = service();
    run(INTERVAL * 3, { s1: {}, s2: { initialised: true } });
    run(DEAD_AFTER + INTERVAL, { s2: { initialised: true }, s3: {} });
    assert.equal(vs.view.primary, 's2');
    run(DEAD_AFTER + INTERVAL, { s4: {} });
    assert.equal(vs.view.primary, 's2', 'the spare s3 was never initialised: it must not be promoted');
    assert.equal(vs.stuck, 'no initialised backup to promote');
  });

  it('does not promote a backup whose state transfer is not complete', () => {
    const { vs, run } = service();
    run(INTERVAL * 3, { s1: {}, s2: { initialised: false } });
    assert.deepEqual(vs.view.backups, ['s2']);
    run(DEAD_AFTER + INTERVAL, { s2: { initialised: false } });
    assert.equal(vs.view.primary, 's1');
    assert.equal(vs.stuck, 'no initialised backup to promote');
    run(INTERVAL, { s2: { initialised: true } });
    assert.deepEqual(shape(vs.view), { number: 3, primary: 's2', backups: [] }, 'once initialised it may take over');
  });

  it('makes no new view until the primary acknowledged the current one', () => {
    const { vs, ping, advance } = service();
    ping('s1', 0);
    ping('s1', 1);
    ping('s2', 0);
    assert.equal(vs.view.number, 2);
    // s1 dies before it has seen view 2: s2 cannot be promoted, as s1 may not know s2 is its backup.
    ping('s2', 2, true);
    advance(DEAD_AFTER);
    ping('s2', 2, true);
    assert.deepEqual(shape(vs.view), { number: 2, primary: 's1', backups: ['s2'] });
    assert.equal(vs.stuck, 'primary has not acknowledged the view');
  });

  it('replaces a dead backup with an idle server, or leaves the primary alone', () => {
    const { vs, run } = service();
    run(INTERVAL * 3, { s1: {}, s2: { initialised: true } });
    run(DEAD_AFTER + INTERVAL, { s1: {} });
    assert.deepEqual(shape(vs.view), { number: 3, primary: 's1', backups: [] });
    run(INTERVAL * 2, { s1: {}, s3: {} });
    assert.deepEqual(shape(vs.view), { number: 4, primary: 's1', backups: ['s3'] });
  });

  it('treats a primary that pings with view 0 as restarted: dead at once, its state lost', () => {
    const { vs, run, ping } = service();
    run(INTERVAL * 3, { s1: {}, s2: { initialised: true } });
    ping('s1', 0);
    assert.deepEqual(shape(vs.view), { number: 3, primary: 's2', backups: [] });
    run(INTERVAL * 2, { s1: {}, s2: { initialised: true } });
    assert.deepEqual(shape(vs.view), { number: 4, primary: 's2', backups: ['s1'] }, 'it comes back as a spare');
  });

  it('takes a server that says it left (halted) for dead at once, its view acknowledged: a failed go-live blocks nothing', () => {
    const { vs, run, advance } = service(2);
    run(INTERVAL * 4, { s1: {}, s2: { initialised: true, position: 30 }, s3: { initialised: true, position: 10 } });
    run(DEAD_AFTER + INTERVAL, { s2: { initialised: true, position: 30 }, s3: { initialised: true, position: 10 } });
    assert.deepEqual(shape(vs.view), { number: 3, primary: 's2', backups: ['s3'] });
    // s2 failed to go live: it never acknowledged view 3 (the service is stuck), then says it left.
    advance(INTERVAL);
    assert.equal(vs.stuck, undefined, 'nothing to change while s2 lives');
    vs.ping({ server: 's2', viewNumber: 3, initialised: false, position: 30, left: true }, DEAD_AFTER * 3);
    assert.deepEqual(shape(vs.view), { number: 4, primary: 's3', backups: [] });
    vs.ping({ server: 's2', viewNumber: 0, initialised: false, position: 0 }, DEAD_AFTER * 3);
    assert.deepEqual(vs.idle, ['s2'], 'pinging on after it left, it is an idle spare');
  });

  it('lets a server cut off and back again rejoin as an idle spare, never as primary', () => {
    const { vs, run } = service();
    run(INTERVAL * 3, { s1: {}, s2: { initialised: true }, s3: {} });
    run(DEAD_AFTER + INTERVAL, { s2: { initialised: true }, s3: {} });
    assert.deepEqual(shape(vs.view), { number: 3, primary: 's2', backups: ['s3'] });
    // s1 was partitioned, still believes view 2 and pings with it.
    run(INTERVAL * 2, { s1: {}, s2: { initialised: true }, s3: {} });
    assert.equal(vs.view.primary, 's2');
    assert.deepEqual(vs.idle, ['s1']);
  });

  it('keeps K backups and promotes the most advanced when the primary dies', () => {
    const { vs, run } = service(2);
    run(INTERVAL * 4, { s1: {}, s2: { initialised: true, position: 10 }, s3: { initialised: true, position: 30 } });
    assert.deepEqual(shape(vs.view), { number: 2, primary: 's1', backups: ['s2', 's3'] });
    run(DEAD_AFTER + INTERVAL, { s2: { initialised: true, position: 10 }, s3: { initialised: true, position: 30 } });
    assert.deepEqual(shape(vs.view), { number: 3, primary: 's3', backups: ['s2'] });
  });

  it('does not count the time it stalled itself (stalled) towards a server\'s death', () => {
    const { vs, ping, run, advance } = service();
    ping('s1', 0);
    run(INTERVAL * 2, { s1: {}, s2: {} });
    run(INTERVAL * 2, { s1: {}, s2: { initialised: true } });
    const before = shape(vs.view);
    vs.stalled(DEAD_AFTER * 3);
    advance(DEAD_AFTER * 3);
    assert.deepEqual(shape(vs.view), before, 'no one died while the service was not listening');
    run(DEAD_AFTER, { s2: { initialised: true } });
    assert.deepEqual(shape(vs.view), { number: before.number + 1, primary: 's2', backups: [] }, 's1 silent past the stall: dead');
  });

  it('changes the view once per rule, not once per ping', () => {
    const { vs, run } = service();
    run(INTERVAL * 20, { s1: {}, s2: { initialised: true }, s3: {} });
    assert.deepEqual(shape(vs.view), { number: 2, primary: 's1', backups: ['s2'] });
    assert.equal(vs.stuck, undefined);
  });

  it('does not count an "initialised" sent before the server knew it was a backup', () => {
    const { vs, ping, run, advance } = service();
    run(INTERVAL * 3, { s1: {}, s2: { initialised: true } });
    run(DEAD_AFTER + INTERVAL, { s1: {} });
    assert.deepEqual(shape(vs.view), { number: 3, primary: 's1', backups: [] });
    // s2 comes back still saying initialised from its old role, with the old view: it becomes the backup of view 4...
    ping('s2', 2, true);
    assert.deepEqual(shape(vs.view), { number: 4, primary: 's1', backups: ['s2'] });
    ping('s1', 4);
    // ...but s1 dies before s2 has pinged with view 4: s2's state is from before, it must not take over.
    for (let ms = 0; ms <= DEAD_AFTER; ms += INTERVAL) {
      advance(INTERVAL);
      ping('s2', 2, true);
    }
    assert.equal(vs.view.primary, 's1');
    assert.equal(vs.stuck, 'no initialised backup to promote');
  });

  it('restarted from its durable view, keeps the roles and makes the next view change by the same rules', () => {
    const { vs, run } = service();
    run(INTERVAL * 3, { s1: {}, s2: { initialised: true }, s3: {} });
    const restarted = ViewService.restore(vs.options, vs.durable, 10_000);
    assert.deepEqual(shape(restarted.view), { number: 2, primary: 's1', backups: ['s2'] });
    assert.deepEqual(shape(restarted.tick(10_000 + DEAD_AFTER - 1)), shape(vs.view), 'no one is dead before missing its pings');
    restarted.ping({ server: 's2', viewNumber: 2, initialised: true, position: 0 }, 10_000 + INTERVAL);
    restarted.ping({ server: 's3', viewNumber: 2, initialised: false, position: 0 }, 10_000 + INTERVAL);
    assert.deepEqual(shape(restarted.tick(10_000 + DEAD_AFTER)), { number: 3, primary: 's2', backups: ['s3'] });
  });
});
