// Deterministic replay's roles: primary, backup, the Output Rule, failure detection, the arbiter and the service
// address.
export * from './primary';
export * from './backup';
export * from './outputrule';
export * from './detector';
export * from './arbiter';
export * from './service';
export * from './hostcontext';
export * from './primarylink';
export * from './wakeup';
export * from './shareddisk';
export * from './localdisk';
