// Every benchmark, in the order `npm run bench` runs them. To add one: write bench/<name>.ts exporting a
// BenchmarkModule (see bench/harness.ts: alternate(), compareRow(), runProcess() for whole processes
// with peak memory) and list it here.
import { BenchmarkModule } from './harness';
import { debugBenchmark } from './debug';
import { diskBenchmark } from './disk';
import { epochBenchmark } from './epoch';
import { ftBenchmark } from './ft';
import { jitBenchmark } from './jit';
import { linuxBenchmark } from './linux';
import { logBytesBenchmark } from './logbytes';
import { machineBenchmark } from './machine';
import { recordBenchmark } from './record';
import { remusBenchmark } from './remus';
import { startupBenchmark } from './startup';
import { tapBenchmark } from './tap';
import { backupsBenchmark, viewsBenchmark } from './views';

export const BENCHMARKS: BenchmarkModule[] = [
  machineBenchmark, // npm run bench:machine (group "machine")
  startupBenchmark, // group "machine": whole `lockstep run` processes, start-up by phase (needs dist/cli.js)
  epochBenchmark,
  jitBenchmark,
  recordBenchmark, // group "qemu": needs qemu-system-i386, skipped (saying how to install) without it
  logBytesBenchmark,
  ftBenchmark, // npm run bench:ft (group "ft"): FT pair of host processes, needs dist/cli.js (npm run bench builds it)
  remusBenchmark, // group "remus" (also "ft"): replay vs checkpoint replication, same workloads
  diskBenchmark, // npm run bench -- --only disk (group "ft"): disks under FT, shared and local, vs a single host
  viewsBenchmark, // --only views (group "ft"): failover per coordinator; etcd skipped without etcd-server
  backupsBenchmark, // --only =backups (groups "ft", "views"): Output Rule delay with 1 vs 2 backups
  debugBenchmark, // npm run bench:debug (group "debug"): the debug adapter on an FT pair
  tapBenchmark, // npm run bench -- --only tap: curl through a tap to the linux guest (root, linux guest built)
  linuxBenchmark, // npm run bench:linux (group "linux"): needs npm run build:linux, skipped without it
];

