// A real etcd member for tests: Debian's etcd-server (scripts/install-test-deps.sh), one member on
// 127.0.0.1 ports of its own with its own data folder, killed and started again on the same folder.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './cluster';

/** Why etcd cannot run here (the reason a test skips with), or undefined when it can. */
export function etcdMissing(): string | undefined {
  const found = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  return found.status === 0 ? undefined : 'etcd is not installed (apt-get install etcd-server, or scripts/install-test-deps.sh as root)';
}

export class EtcdMember {
  private process: ChildProcess | undefined;
  private readonly dataDir = mkdtempSync(join(tmpdir(), 'lockstep-etcd-'));

  private constructor(readonly clientPort: number, private readonly peerPort: number) {}

  static async start(): Promise<EtcdMember> {
    const member = new EtcdMember(await freePort(), await freePort());
    await member.restart();
    return member;
  }

  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`;
  }

  /** Starts the member (again, on the same data): resolves once it serves clients. */
  restart(): Promise<void> {
    const client = `http://${this.endpoint}`;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const child = spawn('etcd', [
      '--name', 'lockstep-test', '--data-dir', this.dataDir,
      '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer, '--initial-cluster', `lockstep-test=${peer}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.process = child;
    let log = '';
    return new Promise((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        log = (log + chunk.toString()).slice(-4000);
        if (log.includes('ready to serve client requests')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`etcd exited (${code}) before serving: ${log.slice(-500)}`)));
    });
  }

  /** SIGKILL, as a machine's loss. */
  async kill(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async remove(): Promise<void> {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
