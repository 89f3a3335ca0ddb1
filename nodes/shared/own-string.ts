/**
 * Strings cut out of a big text that keep nothing else alive.
 *
 * V8 makes `text.slice(a, b)` of 13 characters or more a sliced string: a view that keeps the whole of
 * `text` alive as long as it lives. A source that cuts its fields out of a chunk's text would then pin
 * the chunk in every node that keeps a value beyond the batch (group values, kept measures, cache keys,
 * state), breaking "memory bounded by the batches in flight". Shorter slices are copies already.
 */

/** the shortest slice V8 makes a view of its parent instead of a copy (v8 SlicedString::kMinLength) */
export const SLICE_VIEW_MIN = 13;

/**
 * `text.slice(start, end)` as a string of its own: a copy when the slice would be a view of `text`.
 * (`' ' + part` is a cons string; slicing it flattens it into a new string of part's length + 1, which
 * is all the result keeps alive: test/unit/own-string.test.ts checks that on the running V8.)
 */
export function ownSlice(text: string, start: number, end: number): string {
  if (end - start < SLICE_VIEW_MIN) return text.slice(start, end);
  return (' ' + text.slice(start, end)).slice(1);
}

/**
 * `ownSlice`, copied out of `ascii` when given: the bytes `text` was decoded from, when every character
 * is one byte (ASCII), so that character and byte offsets agree. Buffer decodes them into a flat string
 * in one allocation, where ownSlice makes three objects: the cheaper copy on a source's hottest path.
 */
export function ownField(text: string, start: number, end: number, ascii: Buffer | undefined): string {
  return ascii && end - start >= SLICE_VIEW_MIN ? ascii.toString('latin1', start, end) : ownSlice(text, start, end);
}
