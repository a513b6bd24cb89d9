// Lines out of a byte stream that arrives in pieces: the guest's serial output, through the service's
// TCP side, leaves a slice at a time, so a line may span chunks. One reader per connection: a line cut
// off by a lost connection never goes on in the next.

/** Splits one connection's bytes into lines. */
export class LineReader {
  private buffer = '';

  constructor(private readonly line: (line: string) => void) {}

  push(text: string): void {
    this.buffer += text;
    for (let end = this.buffer.indexOf('\n'); end >= 0; end = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 1);
      this.line(line);
    }
  }
}
