// The embedded view service's durable state: the current view and whether its primary acknowledged
// it, written at every change to a temporary file renamed over the old one, so a reader finds the
// old state or the new, never half of one. Liveness is not kept: a restarted service rebuilds it from
// pings (ViewService.restore).
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { DurableView } from './viewservice';

export class ViewStore {
  constructor(readonly file: string) {}

  save(state: DurableView): void {
    writeFileSync(`${this.file}.tmp`, JSON.stringify(state));
    renameSync(`${this.file}.tmp`, this.file);
  }

  /** The last state saved, or undefined when none was. */
  load(): DurableView | undefined {
    try {
      return JSON.parse(readFileSync(this.file, 'utf8')) as DurableView;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }
}
