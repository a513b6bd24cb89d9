// The logging channel between primary and backup: the TCP transport, and the backup's ack thread.
export * from './channel';
export * from './ackthread';
export * from './coalesce';
