// Dirty pages: what changed since the last checkpoint. v86 tracks no dirty pages (its compiled code
// writes RAM directly), so they are found after the fact, two ways:
//  - guest RAM by its per-page hashes: a checkpoint is taken at an epoch, which hashes every page
//    anyway (to detect divergence), so comparing with the hashes of the last checkpoint costs almost
//    nothing more (bench/ measures it against comparing with a copy);
//  - the rest of the machine (v86's state without RAM, a few MB, mostly VGA memory that never
//    changes) byte for byte against a copy of the last one, which it needs anyway to XOR against.
import { PAGE_SIZE, pageHashes } from '../machine';

/** Page numbers whose hashes differ (every page when there are no previous hashes). */
export function dirtyByHash(previous: BigUint64Array | undefined, current: BigUint64Array): number[] {
  const dirty: number[] = [];
  for (let page = 0; page < current.length; page++) if (previous?.[page] !== current[page]) dirty.push(page);
  return dirty;
}

let zeroHash: bigint | undefined;

/** Pages that are not all zeros by their hashes: what a full checkpoint carries (a new store starts zeroed). */
export function nonZeroPages(hashes: BigUint64Array): number[] {
  zeroHash ??= pageHashes(new Uint8Array(PAGE_SIZE))[0];
  const pages: number[] = [];
  for (let page = 0; page < hashes.length; page++) if (hashes[page] !== zeroHash) pages.push(page);
  return pages;
}

export function pageCount(size: number): number {
  return Math.ceil(size / PAGE_SIZE);
}

/** Page `page` of `bytes` (the last one may be short). */
export function pageOf(bytes: Uint8Array, page: number): Uint8Array {
  return bytes.subarray(page * PAGE_SIZE, Math.min((page + 1) * PAGE_SIZE, bytes.length));
}

/** A region's contents as of the last checkpoint: what the next one is compared and XORed against. */
export class ShadowRegion {
  private bytes: Uint8Array = new Uint8Array(0);

  /** Pages of `current` that differ from the copy (all of them when its size changed: the copy is then dropped). */
  dirty(current: Uint8Array): number[] {
    const pages: number[] = [];
    const sameSize = current.length === this.bytes.length;
    if (!sameSize) this.reset();
    const now = Buffer.from(current.buffer, current.byteOffset, current.length);
    for (let page = 0; page < pageCount(current.length); page++) {
      const from = page * PAGE_SIZE;
      const to = Math.min(from + PAGE_SIZE, current.length);
      if (!sameSize || now.compare(this.bytes, from, to, from, to) !== 0) pages.push(page);
    }
    return pages;
  }

  /** The copy's page (zeros where it has none): what a page is XORed against. */
  previous(page: number, length: number): Uint8Array {
    const from = page * PAGE_SIZE;
    return from + length <= this.bytes.length ? this.bytes.subarray(from, from + length) : new Uint8Array(length);
  }

  /** The checkpoint was taken: the copy takes `pages` of `current` (all of `current` when its size changed). */
  commit(current: Uint8Array, pages: number[]): void {
    if (current.length !== this.bytes.length) {
      this.bytes = current.slice();
      return;
    }
    for (const page of pages) this.bytes.set(pageOf(current, page), page * PAGE_SIZE);
  }

  /** Forgets the copy: the next checkpoint is compared with nothing (a full one, for a new backup). */
  reset(): void {
    this.bytes = new Uint8Array(0);
  }
}
