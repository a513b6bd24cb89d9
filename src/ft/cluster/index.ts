// The cluster: host processes, the protocol between them and the cluster, faults.
export * from './cluster';
export * from './clustersummary';
export * from './host';
export * from './hostlink';
export * from './hostprotocol';
export * from './faults';
export * from './tapbridge';
