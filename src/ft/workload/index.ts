// Clients of the guests: the kv workload, its history checker, Ethernet frames.
export * from './client';
export * from './checker';
export * from './ethernet';
export * from './serialline';
