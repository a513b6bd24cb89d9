// The debugger's movements are generators that yield the count after every whole slice or stretch, so
// that a driver can take turns (MachineDebugger); the plain calls drive them in one go.

/** Runs a movement to its end, in one go, and returns its result. */
export function drain<T>(run: Generator<number, T, void>): T {
  for (;;) {
    const next = run.next();
    if (next.done) return next.value;
  }
}
