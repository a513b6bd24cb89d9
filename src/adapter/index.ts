// The debug adapter's public face: the session class, how to run it, the launch schema for
// package.json, and the custom protocol (protocol.ts).
export { LockstepDebugSession } from './session';
export type { SessionOptions } from './session';
export { createLockstepSession, runStdio, serveTcp, serverPort } from './server';
export { launchSchema, parseLaunch, LaunchError } from './launch';
export type { LaunchConfig } from './launch';
export type * from './protocol';
