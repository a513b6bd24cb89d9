// The guest console (src/extension/guestConsole.ts) against a real FT pair of the kv guest: what is
// typed reaches the guest as a logged input, the reply comes back, and after the primary is killed
// the console reconnects to the new primary, which had applied the same input from the log.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster } from '../../src/ft/cluster';
import { readLogFile } from '../../src/ft/log';
import { GuestConsole, toTerminal } from '../../src/extension/guestConsole';
import { clusterOptions, until } from '../support/cluster';

/** Terminal output with the escape sequences taken out. */
// eslint-disable-next-line no-control-regex -- ESC is what starts the sequences it removes
const plain = (text: string) => text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

describe('guest console', () => {
  it('turns the guest\'s line feeds into CRLF', () => {
    assert.equal(toTerminal('a\nb\r\nc'), 'a\r\nb\r\nc');
  });

  it('edits a line locally and sends it whole; reconnects after a failover', async function () {
    this.timeout(120_000);
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-console-'));
    const record = join(dir, 'kv.ftlog');
    const cluster = new Cluster(clusterOptions('kv', { record, detector: { timeoutMs: 500, heartbeatMs: 50 } }));
    const console = new GuestConsole(async () => cluster.service, 'kv console');
    let screen = '';
    console.onDidWrite((text) => { screen += text; });
    try {
      await cluster.start();
      console.open();
      await until(() => plain(screen).includes('[connected to'), 'the console to connect');
      // A typo, erased with backspace: only the edited line reaches the guest.
      console.handleInput('1 1 PUT a 1X');
      console.handleInput('\x7f');
      console.handleInput('\r');
      await until(() => plain(screen).includes('1 1 OK'), 'the reply to the PUT');
      assert.ok(plain(screen).includes('1 1 PUT a 1X\b \b\r\n'), 'echo, then the backspace erasing the X');

      cluster.kill('primary');
      await until(() => cluster.failovers.length > 0, 'the failover');
      // Typed again, as a user would, when it did not reach the new primary: the console says when a
      // line is not sent, and it may reconnect for a moment to the dying primary's listening socket.
      await until(() => {
        const text = plain(screen);
        if (text.includes('1 2 VALUE 1')) return true;
        const echo = text.lastIndexOf('1 2 GET a\r\n');
        const lost = echo < 0 || /not connected|connection lost/.test(text.slice(echo));
        if (lost && text.endsWith('[reconnected]\r\n')) console.handleInput('1 2 GET a\r');
        return false;
      }, 'the new primary to answer from the logged PUT');
    } finally {
      console.close();
      await cluster.stop();
    }
    // The typed line is an input entry of the log like any client's, exactly as edited.
    const { entries } = await readLogFile(record);
    const inputs = entries.filter((e) => e.kind === 'input').map((e) => Buffer.from((e as { data: Uint8Array }).data).toString());
    assert.ok(inputs.includes('1 1 PUT a 1\n'), JSON.stringify(inputs));
    rmSync(dir, { recursive: true, force: true });
  });

  it('says what was not sent while it is not connected', () => {
    const console = new GuestConsole(async () => undefined, 'nowhere');
    let screen = '';
    console.onDidWrite((text) => { screen += text; });
    console.open();
    console.handleInput('hello\r');
    console.close();
    assert.match(plain(screen), /\[not connected: "hello" was not sent\]/);
  });
});
