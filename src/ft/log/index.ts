// The log: entry kinds and their encoding, log files, recordings spread over hosts.
export * from './log';
export * from './logfile';
export * from './recording';
