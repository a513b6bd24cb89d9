// `lockstep`'s usage text: every command and option, and the fault kinds from their table.
import { BUILTIN_GUESTS } from './ft/machine';
import { DEFAULT_TAP_ADDRESS, FAULT_ARGUMENTS, FAULT_KIND_NAMES, FAULT_KINDS } from './ft/cluster';
import { DEFAULT_CHECKPOINT_MS } from './ft/checkpoint';

/** The fault kinds, one a line, and what their arguments are: from the table in src/ft/cluster/faults.ts. */
function faultHelp(): string {
  const specs = FAULT_KIND_NAMES.map((kind) => [`${kind}@${FAULT_ARGUMENTS[FAULT_KINDS[kind].argument].symbol}`, FAULT_KINDS[kind].does]);
  const width = Math.max(...specs.map(([spec]) => spec.length)) + 2;
  const legend = Object.values(FAULT_ARGUMENTS).map(({ symbol, means }) => `${symbol}: ${means}`);
  return [...specs.map(([spec, does]) => `  ${spec.padEnd(width)}${does}`), ...wrap(legend, '; ', 98).map((line) => `  ${line}`)].join('\n');
}

/** `parts` joined by `separator` into lines of at most `width` characters (a part is never split). */
function wrap(parts: string[], separator: string, width: number): string[] {
  const lines: string[] = [];
  for (const part of parts) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last].length + separator.length + part.length <= width) lines[last] += `${separator}${part}`;
    else lines.push(part);
  }
  return lines.map((line, i) => (i < lines.length - 1 ? `${line}${separator.trimEnd()}` : line));
}

export const USAGE = `usage: lockstep <command> [options]

commands:
  run <guest | image>   run one deterministic machine and print the guest's serial output
      --clock virtual|host   --no-jit   --memory MiB   --epoch N   --max-instructions N
      --input FILE   --clone-at N   --snapshot-at N --snapshot-file F   --from-snapshot F
      --seed N (the guest's random values; default 1)   --cmdline TEXT   --bios FILE --vga-bios FILE [--initrd FILE]   --json
      --disk FILE (a raw image: the guest's IDE disk, read and written in place)

  ft <guest | image>    run a fault-tolerant primary/backup pair (two host processes)
      --service HOST:PORT   --fault KIND@WHEN (repeatable)   --record FILE.ftlog
      --tap IFNAME [--tap-address CIDR (default ${DEFAULT_TAP_ADDRESS})]: the guest's network card on a host
        tap interface (created if missing; root or CAP_NET_ADMIN; bridged by socat)
      --agent HOST:PORT (repeatable, one host each) --agent-token T
      --detect-timeout MS   --heartbeat MS   --no-restore   --duration MS   --max-instructions N
      --clock   --no-jit   --memory   --epoch   --cmdline   --bios --vga-bios --initrd (as run)   --json   --verbose
      --disk FILE   --disk-mode shared|local (shared: FILE outside both hosts; local: FILE.host-N each)
      --mode replay|checkpoint (default replay: deterministic replay, VM-FT; checkpoint: Remus)
      --checkpoint-ms N (default ${DEFAULT_CHECKPOINT_MS}) | --checkpoint-instructions N (the epoch length)   --checkpoint-compress
      --hosts N (past 2: idle spares, and a view service decides the roles)   --coordinator embedded|etcd://HOST:PORT[,…]
      --ping-interval MS   --dead-pings N (the view service's; default 100 ms, 5)
      --backups K (default 1; needs --hosts K+1 or more): K replaying backups, outputs wait for every live one
  host --listen HOST:PORT --token T
                        serve one host of a cluster on another machine (lockstep ft --agent ...)
  client kv --connect HOST:PORT [--ops N] [--seed S] [--clients C] [--first-client ID]
            [--via serial|net] [--json]
                        a key/value workload against the service; checks the history
                        (--via net: UDP datagrams to the guest's network card, not serial lines)
  replay FILE.ftlog [image] [--bios FILE] [--vga-bios FILE] [--initrd FILE] [--disk FILE] [--json]
                        replay a recorded log and check its epoch hashes; its boot files are where
                        its header says (or as given), checked by SHA-256; exit 1 unless it is whole
                        (--disk: a local-mode run's disk as it was at the start, if not where the header says)
  join FILE.ftlog [--json]
                        join a recording whose \`lockstep ft\` was killed before it could
                        (FILE and its hosts' FILE.host-N files) into FILE
  demo [--guest kv|linux] [--mode replay|checkpoint] [--ops N] [--seed S] [--kills K] [--detect-timeout MS] [--json]
       [--verbose] [--hosts N [--ping-interval MS] [--dead-pings N] [--backups K] [--coordinator C]]
       [machine options as ft]
                        kv under FT with a client; the primary is killed mid-run (npm start);
                        --guest linux: the same on the linux guest's kvd (npm run build:linux);
                        --hosts past 2: a view service and idle spares, each view printed as it changes;
                        --kills K: the primary is killed K times, each once its successor has a backup;
                        --verbose: the hosts' diagnostics and every role change on stderr
  dap [--port N]        the debug adapter (Debug Adapter Protocol) on stdio, or on 127.0.0.1:N

faults (--fault KIND@WHEN, repeatable):
${faultHelp()}
built-in guests: ${BUILTIN_GUESTS.join(', ')}; linux once built (npm run build:linux)`;
