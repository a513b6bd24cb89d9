// Telemetry (src/extension/telemetry.ts) through the real @vscode/extension-telemetry reporter, its
// send path observed with a fetcher. Outside VS Code, `vscode` is a stand-in whose TelemetryLogger
// follows VS Code's contract (usage events reach the sender only while usage telemetry is enabled);
// test/e2e/vscode.e2e.ts shows the same with VS Code's own telemetry level, in code-server.
import assert from 'node:assert/strict';
import Module from 'node:module';
import type { CustomFetcher } from '@vscode/extension-telemetry';

interface Sender { sendEventData(name: string, data?: Record<string, unknown>): void; flush?(): Promise<void> | void }

/** The telemetry level the stand-in reports; tests flip it. */
const level = { usage: false, listeners: [] as (() => void)[] };

class EventEmitter<T> {
  private listeners: ((v: T) => void)[] = [];
  event = (l: (v: T) => void) => { this.listeners.push(l); return { dispose: () => undefined }; };
  fire(v: T) { this.listeners.forEach((l) => l(v)); }
  dispose() { this.listeners = []; }
}

const fakeVscode = {
  EventEmitter,
  TelemetryTrustedValue: class { constructor(readonly value: string) {} },
  env: {
    machineId: 'machine', sessionId: 'session', language: 'en', appName: 'test', appHost: 'desktop', uiKind: 1,
    remoteName: undefined,
    createTelemetryLogger(sender: Sender) {
      return {
        get isUsageEnabled() { return level.usage; },
        get isErrorsEnabled() { return level.usage; },
        onDidChangeEnableStates: (l: () => void) => { level.listeners.push(l); return { dispose: () => undefined }; },
        logUsage: (name: string, data?: Record<string, unknown>) => {
          if (level.usage) sender.sendEventData(name, data);
        },
        logError: () => undefined,
        dispose: async () => { await sender.flush?.(); },
      };
    },
  },
  version: '1.100.3',
  UIKind: { Desktop: 1, Web: 2 },
};

const load = (Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown })._load;

describe('extension telemetry', () => {
  let telemetry: typeof import('../../src/extension/telemetry');
  before(() => {
    (Module as unknown as { _load: typeof load })._load = function (request: string, ...rest: unknown[]) {
      return request === 'vscode' ? fakeVscode : load.call(this, request, ...rest);
    };
    // required (not imported) so that it loads after the stand-in is in place
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    telemetry = require('../../src/extension/telemetry') as typeof telemetry;
  });
  after(() => { (Module as unknown as { _load: typeof load })._load = load; });

  /** A fetcher that records every POST body, answering like Application Insights. */
  function observedFetcher(): { fetcher: CustomFetcher; bodies: string[] } {
    const bodies: string[] = [];
    const fetcher: CustomFetcher = async (_url, init) => {
      bodies.push(init?.body ?? '');
      return { status: 200, headers: [], text: async () => '{"itemsReceived":1,"itemsAccepted":1,"errors":[]}' };
    };
    return { fetcher, bodies };
  }

  const until = async (done: () => boolean) => {
    for (let i = 0; i < 100 && !done(); i++) await new Promise((ok) => setTimeout(ok, 50));
  };

  const CONNECTION = 'InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/';

  it('is a silent no-op without a connection string', async () => {
    const { fetcher, bodies } = observedFetcher();
    level.usage = true;
    const t = telemetry.createTelemetry(undefined, fetcher);
    t.sessionStarted('kv', 'ft');
    t.failover(2);
    await t.dispose();
    assert.deepEqual(bodies, []);
    assert.equal(telemetry.telemetryConnectionString({}, {}), undefined);
    assert.equal(telemetry.telemetryConnectionString({ lockstep: { telemetryConnectionString: 'x' } }, {}), 'x');
    assert.equal(telemetry.telemetryConnectionString({}, { LOCKSTEP_TELEMETRY_CONNECTION_STRING: 'y' }), 'y');
  });

  it('sends nothing while telemetry is off', async () => {
    const { fetcher, bodies } = observedFetcher();
    level.usage = false;
    const t = telemetry.createTelemetry(CONNECTION, fetcher);
    await new Promise((ok) => setTimeout(ok, 200)); // as long as the 'on' test gives the SDK to load
    t.sessionStarted('kv', 'ft');
    t.failover(2);
    t.divergence(3);
    await t.dispose();
    await new Promise((ok) => setTimeout(ok, 500)); // as long as the batch would take to arrive
    assert.deepEqual(bodies, []);
  });

  it('sends the events, anonymous, while telemetry is on', async function () {
    this.timeout(20_000);
    const { fetcher, bodies } = observedFetcher();
    level.usage = true;
    const t = telemetry.createTelemetry(CONNECTION, fetcher);
    await new Promise((ok) => setTimeout(ok, 200)); // the reporter loads its SDK lazily, once telemetry is on
    t.sessionStarted('/home/someone/secret/kernel.elf', 'replay');
    t.failover(2);
    t.divergence(3);
    await t.dispose(); // flushes what the SDK batched
    await until(() => bodies.join('').includes('pagesDiffering'));
    const sent = bodies.join('\n');
    assert.match(sent, /session\/start/);
    assert.match(sent, /"guest":"image"/);
    assert.match(sent, /"mode":"replay"/);
    assert.match(sent, /failover/);
    assert.match(sent, /"pagesDiffering":3/);
    assert.doesNotMatch(sent, /secret|kernel\.elf/);
  });

  it('names built-in guests only', () => {
    assert.equal(telemetry.guestKind('kv'), 'kv');
    assert.equal(telemetry.guestKind('./kv'), 'image');
    assert.equal(telemetry.guestKind(undefined), 'none');
  });
});
