// The log: entry kinds, their frame encoding, log files, recordings spread over hosts.
export * from './log';
export * from './codec';
export * from './clockrun';
export * from './diskio';
export * from './logfile';
export * from './recording';
