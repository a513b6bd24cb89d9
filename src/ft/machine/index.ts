// The deterministic machine: v86 made deterministic (boundaries, the latched clock, nondeterminism), epochs, hashes and snapshots.
export * from './machine';
export * from './clock';
export * from './nondet';
export * from './hash';
export * from './tsc';
export * from './interpreter';
export * from './jitmodules';
export * from './v86wasm';
export * from './v86types';
export * from './image';
export * from './snapshotfile';
