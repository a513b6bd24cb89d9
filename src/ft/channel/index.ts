// The logging channel between primary and backup: the TCP transport, its handshake and fault
// injector, and the backup's ack thread.
export * from './channel';
export * from './channelserver';
export * from './handshake';
export * from './faultinjector';
export * from './ackthread';
export * from './coalesce';
export * from './chunks';
