// Paths a user names, the system's errors about them, and which errors are the user's to fix: judged
// the same way wherever they come in (the CLI's options, a launch configuration, a host starting up).
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Why a file cannot be written (created or replaced) at `path`, or undefined when it can. */
export function writeProblem(path: string): string | undefined {
  const dir = dirname(resolve(path));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return `no directory ${dir}`;
  if (existsSync(path) && statSync(path).isDirectory()) return 'it is a directory';
  try {
    accessSync(existsSync(path) ? path : dir, constants.W_OK);
  } catch {
    return 'permission denied';
  }
  return undefined;
}

/**
 * An error the system raised about a path or an address (ENOENT, EADDRINUSE, ...): it names what, and says what went
 * wrong.
 */
export function isSystemError(error: Error): boolean {
  const { code, path, syscall } = error as NodeJS.ErrnoException;
  return (path !== undefined || syscall !== undefined) && /^E[A-Z]+$/.test(code ?? '');
}

/**
 * An error whose message is the whole story of what was wrong with what the user gave or the system
 * around it, so the CLI prints it on one line and a host reports it as explained: one of Lockstep's own
 * error classes (UsageError, ImageError, FaultError, HostError, ...), a RangeError (our word for a value
 * out of range, e.g. a memory size), or the system's about a path or an address (isSystemError).
 * JavaScript's other built-in errors (TypeError, ...) are bugs, whose stack helps.
 */
export function isUserError(error: Error): boolean {
  return isSystemError(error) || error.name === 'RangeError' || !(error.name in globalThis);
}

/**
 * What was thrown, as an Error: v86 and other code may throw strings or anything else, which would
 * otherwise be reported as "undefined". The message says what it was.
 */
export function asError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  const shown = typeof thrown === 'string' ? `'${thrown}'` : thrown === undefined ? 'undefined' : JSON.stringify(thrown) ?? String(thrown);
  return new Error(`something other than an error was thrown: ${shown} (${typeof thrown})`);
}
