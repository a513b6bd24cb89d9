// Exact stops, stepping and reverse execution over a recorded run.
export * from './timeline';
export * from './debugger';
export * from './checkpointview';
export { entryNote, outputNote } from './panelstream';
