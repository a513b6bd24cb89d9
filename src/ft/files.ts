// Paths a user names and the system's errors about them, judged the same way wherever they come in
// (the CLI's options, a launch configuration, a host starting up).
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

/** An error the system raised about a path or an address (ENOENT, EADDRINUSE, ...): it names what, and says what went wrong. */
export function isSystemError(error: Error): boolean {
  const { code, path, syscall } = error as NodeJS.ErrnoException;
  return (path !== undefined || syscall !== undefined) && /^E[A-Z]+$/.test(code ?? '');
}
