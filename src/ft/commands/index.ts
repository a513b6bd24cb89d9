// The CLI's commands that run a machine: run, replay, demo, input scripts.
export * from './run';
export * from './replay';
export * from './demo';
export * from './inputscript';
