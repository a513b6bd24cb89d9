// What the guest sends out during a slice: serial bytes and Ethernet frames, kept until the slice
// ends, since output leaves at the end of the slice that produced it (its count is where the Output
// Rule holds it). A guest that exits (isa-debug-exit) keeps the serial bytes it wrote before the exit.
import type * as v86 from './v86types';

export class GuestOutput {
  private serial: number[] = [];
  private frames: Uint8Array[] = [];
  /** Serial bytes written before the guest exited: what follows in that slice is not output. */
  private serialBeforeExit: number | undefined;

  constructor(emulator: v86.Emulator) {
    emulator.add_listener('serial0-output-byte', (byte: number) => this.serial.push(byte));
    // v86 hands over a view of the card's memory: copy it before the guest reuses the buffer.
    emulator.add_listener('net0-send', (frame: Uint8Array) => this.frames.push(frame.slice()));
  }

  /** The guest exited now: later serial bytes are not output. */
  exited(): void {
    this.serialBeforeExit = this.serial.length;
  }

  /** Drops what is pending (a snapshot being restored); `exited`: the restored guest had exited. */
  reset(exited: boolean): void {
    this.serial = [];
    this.frames = [];
    this.serialBeforeExit = exited ? 0 : undefined;
  }

  /** Takes the slice's output: its frames in order, and its serial bytes (none: undefined). */
  take(): { frames: Uint8Array[]; serial?: Uint8Array } {
    if (this.serialBeforeExit !== undefined) this.serial.length = Math.min(this.serial.length, this.serialBeforeExit);
    const frames = this.frames.splice(0);
    if (!this.serial.length) return { frames };
    const serial = Uint8Array.from(this.serial);
    this.serial = [];
    return { frames, serial };
  }
}
