// Data breakpoints come from two places: the client's list (each setDataBreakpoints replaces it whole)
// and the debug console's `.watch` (kept until `.unwatch`, invisible to the client's list). The runtime
// watches both, so neither source erases the other's.
import type { Watch } from '../ft/cluster';

export class Watches {
  private client: Watch[] = [];
  private console: Watch[] = [];

  constructor(private readonly apply: (all: Watch[]) => void) {}

  /** The client's data breakpoints, as its latest request lists them. */
  setClient(watches: Watch[]): void {
    this.client = watches;
    this.push();
  }

  /** One more from the console. */
  add(watch: Watch): void {
    this.console.push(watch);
    this.push();
  }

  /** Drops the console's watches; returns how many there were. */
  clearConsole(): number {
    const dropped = this.console.length;
    this.console = [];
    this.push();
    return dropped;
  }

  /** Every watch, the client's first, each with where it came from. */
  list(): { watch: Watch; from: 'client' | 'console' }[] {
    return [
      ...this.client.map((watch) => ({ watch, from: 'client' as const })),
      ...this.console.map((watch) => ({ watch, from: 'console' as const })),
    ];
  }

  private push(): void {
    this.apply([...this.client, ...this.console]);
  }
}
