// Debian's SeaBIOS for tests of the BIOS boot path (package `seabios`; scripts/install-test-deps.sh
// installs it when it can). Tests that need it skip, saying how to install it, when it is missing.
import { existsSync } from 'node:fs';

export const SEABIOS = '/usr/share/seabios/bios.bin';
export const VGABIOS = '/usr/share/seabios/vgabios-stdvga.bin';

export function biosFilesPresent(): boolean {
  return existsSync(SEABIOS) && existsSync(VGABIOS);
}

/** Skips the running test when the BIOS files are missing, printing how to install them. */
export function skipWithoutBios(context: Mocha.Context): void {
  if (biosFilesPresent()) return;
  console.log(`    (skipped: ${SEABIOS} or ${VGABIOS} is missing; install Debian's SeaBIOS with: apt-get install -y seabios)`);
  context.skip();
}
