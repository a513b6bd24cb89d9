// Tests with a tap interface (lockstep ft --tap): everything happens inside a network namespace the
// test makes, so nothing on the machine's own network changes. Root only; socat, curl and ip from
// Debian (scripts/install-test-deps.sh).
import { ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** Why tap tests cannot run here, or undefined when they can. */
export function tapSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: a tap interface and a network namespace need root (CI runs as root)';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  for (const tool of ['ip', 'socat', 'curl']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `no ${tool} (scripts/install-test-deps.sh installs it)`;
    }
  }
  return undefined;
}

export interface Run { code: number; stdout: string; stderr: string }

/** A network namespace of its own, with its loopback up (the cluster's hosts talk over 127.0.0.1 in it). */
export class NetNs {
  readonly name = `lockstep-test-${process.pid}-${Math.floor(Math.random() * 1e6)}`;

  constructor() {
    execFileSync('ip', ['netns', 'add', this.name]);
    execFileSync('ip', ['netns', 'exec', this.name, 'ip', 'link', 'set', 'lo', 'up']);
  }

  /** Runs a program in the namespace to its end. */
  run(command: string, args: string[], input?: string, timeoutMs = 600_000): Promise<Run> {
    return new Promise((resolve) => {
      const child = execFile('ip', ['netns', 'exec', this.name, command, ...args], { maxBuffer: 64 << 20, timeout: timeoutMs }, (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as NodeJS.ErrnoException).code ?? 1) || 1 : 0, stdout, stderr });
      });
      // A program that ends before reading (socat before the tap is up: network unreachable) makes the write fail
      // with EPIPE: its exit status says what happened.
      child.stdin!.on('error', () => undefined);
      if (input !== undefined) child.stdin!.end(input);
    });
  }

  /** Starts a program in the namespace (`ip netns exec` becomes the program: the pid is its own). */
  spawn(command: string, args: string[]): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.name, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  }

  /**
   * A kv request over UDP from an ordinary client (socat), sent again until a reply comes within 2 s, as a UDP
   * client must (the guest answers a request it has served with the remembered reply).
   */
  async ask(host: string, port: number, line: string, timeoutMs = 120_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { stdout } = await this.run('socat', ['-t', '2', '-T', '2', '-', `UDP:${host}:${port}`], `${line}\n`, 10_000);
      if (stdout) return stdout;
      if (Date.now() > deadline) throw new Error(`no reply to ${line} from ${host}:${port}`);
    }
  }

  /**
   * The guest's console from now on: the service's TCP side (its serial line, released output) read by socat in the
   * namespace. `text()` is what came so far; `stop()` ends the reader.
   */
  readConsole(service: string): { text: () => string; stop: () => void } {
    const reader = this.spawn('socat', ['-u', `TCP:${service}`, '-']);
    let said = '';
    reader.stdout!.setEncoding('latin1').on('data', (chunk: string) => { said += chunk; });
    return { text: () => said, stop: () => reader.kill() };
  }

  delete(): void {
    execFileSync('ip', ['netns', 'delete', this.name]);
  }
}

/** `lockstep ft` from source in a namespace, with what it says and how it ends. */
export class FtProcess {
  readonly process: ChildProcess;
  stderr = '';
  stdout = '';
  readonly ended: Promise<number | null>;

  constructor(ns: NetNs, args: string[]) {
    this.process = ns.spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'ft', ...args]);
    this.process.stderr!.setEncoding('utf8').on('data', (chunk: string) => { this.stderr += chunk; });
    this.process.stdout!.setEncoding('utf8').on('data', (chunk: string) => { this.stdout += chunk; });
    this.ended = new Promise((resolve) => this.process.once('exit', (code) => resolve(code)));
  }

  /**
   * The first host it started: the first primary (`lockstep ft` forks host-1, then the bridge and host-2). Found
   * among its children by start time, so that --json (which says nothing on stderr) can be used.
   */
  firstHostPid(): number {
    return this.hostPids()[0];
  }

  /** Its host processes, the first started first (the first primary, then its backup, then any clone). */
  hostPids(): number[] {
    const pid = this.process.pid!;
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(/\s+/).map(Number);
    const hosts = children.filter((child) => readFileSync(`/proc/${child}/cmdline`, 'latin1').split('\0').includes('host'));
    const started = (child: number) => Number(readFileSync(`/proc/${child}/stat`, 'latin1').split(') ')[1].split(' ')[19]);
    return hosts.sort((a, b) => started(a) - started(b));
  }

  /** Stops it as Ctrl-C does and returns its --json summary; fails, saying so, if it needs SIGKILL after 60 s. */
  async stop(): Promise<{ code: number | null; summary: FtSummary }> {
    if (await this.interrupt(60_000)) {
      throw new Error(`lockstep ft did not end within 60 s of SIGINT (killed); its stderr ends: ${this.stderr.slice(-500)}`);
    }
    return { code: await this.ended, summary: JSON.parse(this.stdout) as FtSummary };
  }

  /** Ends it, as Ctrl-C does (its hosts and socat end with it), or by SIGKILL if that takes over 20 s. */
  async end(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    await this.interrupt(20_000);
  }

  /** SIGINT, then SIGKILL if it has not exited after `graceMs`; says whether it took the SIGKILL. */
  private async interrupt(graceMs: number): Promise<boolean> {
    let killed = false;
    this.process.kill('SIGINT');
    const timer = setTimeout(() => {
      killed = true;
      this.process.kill('SIGKILL');
    }, graceMs);
    await this.ended;
    clearTimeout(timer);
    return killed;
  }
}

export interface FtSummary {
  failovers: { newPrimary: string }[];
  divergences: unknown[];
  framesIn: number;
  framesOut: number;
  tap?: { name: string; address: string };
}
