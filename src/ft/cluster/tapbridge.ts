// `lockstep ft --tap IFNAME`: the guest's network card plugged into a tap interface on this machine,
// so that unmodified programs (curl, a browser, socat) reach the guest over the host's own TCP/IP.
// The bridge is Debian's socat: it reads each frame the host sends into the tap and sends it as one
// UDP datagram to the service's frame port (as QEMU's `-netdev dgram`), and writes each datagram the
// service sends back into the tap. The cluster process owns the bridge, not a host: a host that is
// SIGKILLed takes nothing of the tap with it, and after a failover the new primary binds the same
// service address, so the bridge's datagrams reach it with nothing changed on the tap. socat rather
// than an npm TUN/TAP module: it is a packaged, well-kept tool that does exactly this, and it keeps
// native code (ioctls on /dev/net/tun) out of Lockstep's processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import type { ServiceAddress } from '../replication';

export interface TapOptions {
  /** The interface: created if it does not exist (socat does), or an existing tap. */
  name: string;
  /** The host's address on it, with the prefix length (the guest is 10.0.2.15). */
  address: string;
}

export const DEFAULT_TAP_ADDRESS = '10.0.2.1/24';
/** CAP_NET_ADMIN's bit in /proc/self/status's CapEff: creating a tap and setting its address need it. */
const CAP_NET_ADMIN = 12n;
/** IFF_TAP in /sys/class/net/NAME/tun_flags: a tun/tap interface that carries Ethernet frames. */
const IFF_TAP = 0x2;
/** How long socat may take to open the tap and its socket before the bridge is given up. */
const START_TIMEOUT_MS = 10_000;
/** socat's lines kept to say why it stopped. */
const KEPT_LINES = 5;

/** A TapOptions problem the user must fix (bad name, no privilege, ...): its message is the whole story. */
export class TapError extends Error {
  override name = 'TapError';
}

/** Checks what can be checked before anything starts; throws a TapError naming the problem. */
export function checkTap(tap: TapOptions): void {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(tap.name)) {
    throw new TapError(`--tap: '${tap.name}' is not an interface name (1 to 15 letters, digits, '_', '.', '-')`);
  }
  const ip = tapIp(tap.address);
  if (!hasNetAdmin()) {
    throw new TapError(`--tap ${tap.name}: a tap interface needs root or CAP_NET_ADMIN (run as root inside a network namespace: docs/ft.md)`);
  }
  if (!existsSync('/dev/net/tun')) throw new TapError(`--tap ${tap.name}: this system has no /dev/net/tun (the tun module)`);
  const flags = interfaceTunFlags(tap.name);
  if (flags !== undefined && !(flags & IFF_TAP)) throw new TapError(`--tap ${tap.name}: ${tap.name} exists and is not a tap interface`);
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    if (name !== tap.name && addresses?.some((a) => a.address === ip)) {
      throw new TapError(`--tap-address ${tap.address}: ${ip} is already in use on ${name}`);
    }
  }
}

/** The IPv4 address of `cidr` (ADDRESS/PREFIX), or a TapError. */
function tapIp(cidr: string): string {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const prefix = Number(match?.[5]);
  if (!match || match.slice(1, 5).some((part) => Number(part) > 255) || prefix < 1 || prefix > 30) {
    throw new TapError(`--tap-address: expected an IPv4 address with a prefix length (like ${DEFAULT_TAP_ADDRESS}), got '${cidr}'`);
  }
  return match.slice(1, 5).map(Number).join('.');
}

function hasNetAdmin(): boolean {
  const capEff = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'latin1'))?.[1];
  return capEff !== undefined && ((BigInt(`0x${capEff}`) >> CAP_NET_ADMIN) & 1n) === 1n;
}

/** The tun flags of an existing interface: 0 when it is no tun/tap at all; undefined when there is none. */
function interfaceTunFlags(name: string): number | undefined {
  if (!existsSync(`/sys/class/net/${name}`)) return undefined;
  const flags = `/sys/class/net/${name}/tun_flags`;
  return existsSync(flags) ? Number(readFileSync(flags, 'latin1').trim()) : 0;
}

/** The running bridge: socat between the tap and the service's frame port. */
export class TapBridge {
  private readonly lines: string[] = [];
  private stopping = false;

  private constructor(
    private readonly socat: ChildProcess,
    readonly tap: TapOptions,
    readonly address: ServiceAddress,
  ) {}

  /**
   * Starts socat and resolves once it moves frames (the tap is up with its address, the socket bound), with the
   * address it sends from: a new primary sends frames there before the tap has sent it any (a TCP retransmission
   * after a failover). `onExit` hears of socat stopping on its own.
   */
  static open(tap: TapOptions, service: ServiceAddress, onExit: (why: string) => void): Promise<TapBridge> {
    checkTap(tap);
    const local = service.host === '0.0.0.0' || service.host === '::' ? '127.0.0.1' : service.host;
    const socat = spawn('socat', [
      '-d', '-d', // notices: the socket's port, and the line that says frames flow
      `TUN:${tap.address},tun-type=tap,tun-name=${tap.name},iff-no-pi,iff-up`,
      `UDP-DATAGRAM:${service.host}:${service.port},bind=${local}:0`,
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    return new Promise((resolve, reject) => {
      let port: number | undefined;
      let bridge: TapBridge | undefined;
      const lines: string[] = [];
      const fail = (why: string) => {
        clearTimeout(timer);
        if (socat.exitCode === null) socat.kill();
        reject(new TapError(`--tap ${tap.name}: ${why}`));
      };
      const timer = setTimeout(() => fail(`socat did not bring the bridge up within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
      socat.once('error', (error: NodeJS.ErrnoException) => {
        fail(error.code === 'ENOENT' ? 'needs socat (apt-get install socat; scripts/install-test-deps.sh)' : `socat: ${error.message}`);
      });
      socat.on('exit', (code, signal) => {
        const why = socatError(bridge?.lines ?? lines) ?? (signal ? `killed (${signal})` : `exit code ${code}`);
        if (!bridge) fail(`socat stopped: ${why}`);
        else if (!bridge.stopping) onExit(`the tap bridge (socat) stopped: ${why}`);
      });
      let pending = '';
      socat.stderr!.setEncoding('latin1').on('data', (chunk: string) => {
        const parts = (pending + chunk).split('\n');
        pending = parts.pop()!;
        const kept = bridge?.lines ?? lines;
        kept.push(...parts.filter((line) => !/ N local address: /.test(line)));
        kept.splice(0, Math.max(0, kept.length - KEPT_LINES));
        if (bridge) return;
        for (const line of parts) {
          port ??= Number(/ N successfully prepared local socket AF=\d+ \S+:(\d+)$/.exec(line)?.[1]) || undefined;
          if (port && / N starting data transfer loop/.test(line)) {
            clearTimeout(timer);
            bridge = new TapBridge(socat, tap, { host: local, port });
            bridge.lines.push(...lines);
            resolve(bridge);
          }
        }
      });
    });
  }

  /** Stops socat: a tap it created goes away with it; one that existed before stays. */
  close(): Promise<void> {
    this.stopping = true;
    if (this.socat.exitCode !== null || this.socat.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      this.socat.once('exit', () => resolve());
      this.socat.kill();
    });
  }
}

/** socat's error message ("E ..." lines), without its date and pid. */
function socatError(lines: string[]): string | undefined {
  const error = lines.filter((line) => / E /.test(line)).at(-1);
  return error?.replace(/^.*? E /, '');
}
