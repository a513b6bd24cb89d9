// Checkpoint replication (Remus), the second mode beside deterministic replay: the primary sends its
// changed state at each epoch, the backup holds the last complete checkpoint without running the
// guest, and each epoch's outputs wait for its checkpoint's ack (the replay mode's Output Rule, by
// checkpoint).
export * from './xorrle';
export * from './dirtypages';
export * from './checkpointcodec';
export * from './checkpointstore';
export * from './checkpointer';
export * from './checkpointbackup';
export * from './checkpointsummary';
