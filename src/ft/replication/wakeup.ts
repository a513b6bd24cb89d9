/** A sleep that something else can cut short: new input for the primary, new log for the backup. */
export class Wakeup {
  private pending: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.pending === done) this.pending = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.pending = done;
    });
  }

  wake(): void {
    this.pending?.();
  }
}
