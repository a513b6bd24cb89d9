// Touching guest RAM before a host starts watching its peer. v86's memory is a fresh wasm memory: the
// OS maps each 4 KiB page on its first touch, and on this machine that costs about 20 µs a page. A
// 256 MiB Linux guest pays it in bursts: SeaBIOS and the kernel write megabytes of fresh memory in a
// few slices (0.1–0.5 s each), and the first epoch's page hashes read every page (1.4–2.5 s). Under
// FT such a burst is a synchronous step longer than the failure detector's timeout, so the peer
// hears nothing and goes live (measured: `ft linux` failed over in its first seconds). Paying it
// once, before the detector starts, leaves no burst later.
import { PAGE_SIZE } from './hash';

/** Writes one byte of every page with its own value: each page is mapped, nothing changes. */
export function prefault(memory: Uint8Array): void {
  for (let offset = 0; offset < memory.length; offset += PAGE_SIZE) memory[offset] |= 0;
}
