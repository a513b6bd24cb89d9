// The view service (seed 003): who is primary and who is backup, decided in views.
export * from './viewservice';
export * from './viewstore';
export * from './embedded';
export * from './viewaction';
export * from './coordinator';
export * from './etcd';
export * from './stuckreport';
