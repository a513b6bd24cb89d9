// Touching guest RAM before a host starts watching its peer. v86's memory is a fresh wasm memory: the
// OS maps each 4 KiB page on its first touch, about 13 µs of CPU a page here and 20 µs of wall time on
// a quiet machine. A 256 MiB Linux guest pays it in bursts: SeaBIOS and the kernel write megabytes of
// fresh memory in a few slices (0.1–0.5 s each). Under FT such a burst is a synchronous step that can
// come near the failure detector's timeout, so the peer hears nothing and goes live (measured: `ft
// linux` failed over in its first seconds). Paying it once, before the detector starts, leaves no
// burst later. It costs all of guest RAM resident and an epoch reading every page (the pages never
// mapped are otherwise skipped, residentpages.ts), so it is paid only where a burst could matter: when
// touching all of RAM at once could take a quarter of the timeout (a 32 MiB guest at most 0.16 s).
import { PAGE_SIZE } from './hash';

/** Wall time of a first touch, ms a page (the quiet-machine figure above). */
const FIRST_TOUCH_MS = 0.02;
/** The share of the detector's timeout that the first touch of all guest RAM may take without a prefault. */
const TIMEOUT_SHARE = 0.25;

/** Whether a burst of first touches of `bytes` of RAM could come near a detection timeout of `timeoutMs`. */
export function needsPrefault(bytes: number, timeoutMs: number): boolean {
  return (bytes / PAGE_SIZE) * FIRST_TOUCH_MS > timeoutMs * TIMEOUT_SHARE;
}

/**
 * Maps every page of `memory` (writes one byte of each with its own value: nothing changes) when
 * needsPrefault says a burst could matter; says whether it did.
 */
export function prefault(memory: Uint8Array, timeoutMs: number): boolean {
  if (!needsPrefault(memory.length, timeoutMs)) return false;
  for (let offset = 0; offset < memory.length; offset += PAGE_SIZE) memory[offset] |= 0;
  return true;
}
