// The deterministic machine: v86 made deterministic (boundaries, the latched clock, nondeterminism), epochs, hashes
// and snapshots.
export * from './machine';
export type * from './machineevents';
export { DEFAULT_EPOCH_LENGTH, DEFAULT_MEMORY_MIB, resolveSpec } from './options';
export type { MachineOptions, MachineSpec, ResolvedSettings } from './options';
export * from './bootfiles';
export * from './clock';
export * from './nondet';
export * from './hash';
export * from './tsc';
export * from './interpreter';
export * from './jitmodules';
export * from './v86wasm';
export * from './v86types';
export * from './image';
export { biosProblem } from './bios';
export type { BiosFiles } from './bios';
export { GUEST_MAC } from './devices';
export { StepDivergence } from './stepping';
export type { InstructionStop, SliceRecord } from './stepping';
export { countBeforeExit } from './jitexit';
export type { JitExit } from './jitexit';
export { SnapshotError, readSnapshotFile, writeSnapshotFile } from './snapshot';
export { prefault } from './prefault';
export { GuestDisk, DISK_BLOCK_SIZE } from './disk';
export type { DiskCounts, DiskMode, DiskOptions, DiskReader, DiskSource, DiskWrite } from './disk';
export { DiskError, DiskFile, diskProblem, lockDisk, openLockedDisk } from './diskfile';
export type { DiskIdentity } from './diskfile';
