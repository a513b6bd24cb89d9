// The one binary search of the debugger: where a count falls in a list kept in count order.

/**
 * The index of the last item whose key is at or before `key` in `sorted` (ascending by key), or -1
 * when every key is after it. With duplicate keys, the last of them.
 */
export function lastAtOrBefore(sorted: ArrayLike<number>, key: number): number;
export function lastAtOrBefore<T>(sorted: ArrayLike<T>, key: number, keyOf: (item: T) => number): number;
export function lastAtOrBefore<T>(sorted: ArrayLike<T>, key: number, keyOf?: (item: T) => number): number {
  const keyAt = keyOf ? (i: number) => keyOf(sorted[i]) : (i: number) => sorted[i] as unknown as number;
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (keyAt(middle) <= key) low = middle + 1;
    else high = middle;
  }
  return low - 1;
}
