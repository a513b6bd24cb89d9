// The debug adapter's public face: the session class, how to run it, the launch schema for
// package.json, and the custom protocol (protocol.ts). Inline in VS Code's extension host, pass
// `launcher` (e.g. { script: <extension>/dist/cli.js, execArgv: [] }): by default FT hosts re-run
// this process's own script, which there is VS Code's.
export { LockstepDebugSession } from './session';
export type { SessionOptions } from './session';
export { createLockstepSession, runStdio, serveTcp, serverPort } from './server';
export { launchSchema, parseLaunch, LaunchError } from './launch';
export type { LaunchConfig } from './launch';
export type * from './protocol';
