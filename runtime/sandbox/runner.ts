/**
 * The fixed code each isolate runs around the user's function, and what its replies mean. It is never
 * built around user input. It evaluates to a factory kept in a closure: nothing of it is on globalThis,
 * the host holds references to its functions (a one-time handoff), so user code cannot call or replace
 * them. The builtins it needs are taken before the user's code is even loaded.
 */

/** run first in every isolate, before the user's code: what user code must not have */
export const HARDEN = `
delete globalThis.WebAssembly;        // its memories are not counted in the isolate's heap limit
delete globalThis.SharedArrayBuffer;  // nor are shared buffers (and Atomics.wait needs one)
`;

// load(json, single) parses a batch's calls once (with `single`, each element is a call's only argument,
// not its argument list: no array per call on either side); run(from, budgetMs, bytesLeft, replyChars) calls the
// user's function for each from `from`, catches per record, and returns early (with the results so far)
// once half the timeout is spent, so the host's hard timeout only ever stops a single call (the results
// before it are then fetched with salvage(), and running() says which call it was). Each result is
// encoded as JSON right after its call (a result the function mutates later is sent as it was when
// returned). What run returns is one or more replies joined by newlines (JSON text never holds a raw
// newline): a reply ends once it holds about `replyChars` characters, so the texts that cross to the
// host stay small (see REPLY_CHARS). A reply starts with `{"n":count,"start":from,"left":chars,` so the
// worker can read where it ends, and how much of the output cap is left, without parsing the values.
// The first result past `bytesLeft` characters of JSON, and every one after it, is an error: the cap
// on one batch's output.
export const RUNNER = `
(function () {
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const now = Date.now;
  const join = Function.prototype.call.bind(Array.prototype.join);
  const apply = Function.prototype.call.bind(Function.prototype.apply);
  const toText = String;
  const describe = (e) => (e instanceof Error ? e.name + ': ' + e.message : 'threw ' + toText(e));
  const message = (e) => {
    try { return describe(e); } catch (e2) { return 'threw a value that cannot be described'; }
  };
  return function bind(fn, capMb) {
    let calls = [];
    let single = false;
    let start = 0;
    let at = 0;
    let left = 0;
    let parts = [];
    let errors = [];
    let undef = [];
    let done = [];
    let chars = 0;
    const close = () => {
      done[done.length] =
        '{"n":' + parts.length + ',"start":' + start + ',"left":' + left + ',"values":[' + join(parts, ',') + '],"errors":' + stringify(errors) + ',"undef":[' + join(undef, ',') + ']}';
      start += parts.length;
      parts = [];
      errors = [];
      undef = [];
      chars = 0;
    };
    const reply = () => {
      if (parts.length > 0 || done.length === 0) close();
      return join(done, '\\n');
    };
    const fail = (i, text) => { errors[errors.length] = [i, text]; };
    const capped = 'its result passes the cap on the output of one batch (settings.sandbox.maxOutputMb: ' + capMb + ')';
    return {
      arity: fn.length,
      load(json, one) {
        calls = parse(json);
        single = one === true;
        return calls.length;
      },
      run(from, budgetMs, bytesLeft, replyChars) {
        start = from;
        parts = [];
        errors = [];
        undef = [];
        done = [];
        chars = 0;
        at = from;
        left = bytesLeft;
        const t0 = now();
        for (let i = from; i < calls.length; i++) {
          if (i > from && now() - t0 > budgetMs) break;
          if (chars > replyChars) close();
          at = i;
          let text = 'null';
          if (left <= 0) {
            // the cap is reached: the rest of the batch fails without running
            fail(i, capped);
            parts[parts.length] = text;
            continue;
          }
          let v;
          let threw = false;
          try {
            v = single ? fn(calls[i]) : apply(fn, undefined, calls[i]);
          } catch (e) {
            threw = true;
            fail(i, message(e));
          }
          if (!threw) {
            const kind = typeof v;
            if (v !== null && kind === 'object' && typeof v.then === 'function') fail(i, 'user code must be synchronous: it returned a Promise');
            else if (kind === 'function') fail(i, 'returned a function, which is not JSON');
            else if (kind === 'symbol') fail(i, 'returned a Symbol, which is not JSON');
            else if (kind === 'bigint') fail(i, 'returned a BigInt, which is not JSON');
            else if (v === undefined) undef[undef.length] = i;
            else {
              let t;
              try {
                t = stringify(v);
              } catch (e) {
                fail(i, 'its result is not JSON: ' + message(e));
              }
              if (t !== undefined) {
                if (t.length > left) {
                  fail(i, capped);
                  left = 0;
                } else {
                  left -= t.length;
                  text = t;
                }
              }
            }
          }
          parts[parts.length] = text;
          chars += text.length;
        }
        return reply();
      },
      // after a runaway call: the results done before it, and which call ran away
      salvage: reply,
      running() {
        return at;
      },
    };
  };
})()
`;

/**
 * About how many characters of JSON one message part carries between host and worker: a batch's calls
 * go in chunks and its results come back in replies of about this size. A string over 128 KB is put
 * in V8's large-object space, which only a full GC frees: a batch sent as one string kept tens of MB
 * of dead batches in the host. 48 Ki characters stay under that even as two-byte strings.
 */
export const REPLY_CHARS = 48 * 1024;

/** the replies of one run() text, with the number of results they hold and the output cap left after them (undefined: not replies) */
export function splitReplies(text: string): { replies: string[]; n: number; left: number } | undefined {
  const replies = text.split('\n');
  let n = 0;
  let left = 0;
  for (const r of replies) {
    const head = replyHead(r);
    if (!head) return undefined;
    n += head.n;
    left = head.left;
  }
  return { replies, n, left };
}

/** the calls of a batch's chunks (encodeCalls) as one JSON array text */
export function joinCalls(chunks: string[]): string {
  if (chunks.length === 1) return chunks[0];
  let text = '[';
  for (let i = 0; i < chunks.length; i++) text += (i > 0 ? ',' : '') + chunks[i].slice(1, -1);
  return text + ']';
}

/** a batch's calls (argument lists, or only arguments) as JSON arrays of at most about `REPLY_CHARS` characters each (one call alone may be longer) */
export function encodeCalls(calls: unknown[]): string[] {
  const chunks: string[] = [];
  let step = 64;
  for (let i = 0; i < calls.length; ) {
    const n = Math.min(step, calls.length - i);
    const text = JSON.stringify(n === calls.length ? calls : calls.slice(i, i + n));
    chunks.push(text);
    i += n;
    // aim the next chunk at REPLY_CHARS from the size of this one
    const per = text.length / n;
    step = Math.max(1, Math.floor(REPLY_CHARS / Math.max(1, per)));
  }
  return chunks;
}

/** the calls of chunks made by encodeCalls, as argument lists (`single`: each element is a call's only argument) */
export function decodeCalls(chunks: string[], single = false): unknown[][] {
  const out: unknown[][] = [];
  for (const c of chunks) for (const call of JSON.parse(c) as unknown[]) out.push(single ? [call] : (call as unknown[]));
  return out;
}

export type CallResult = { ok: true; value: unknown } | { ok: false; error: string };

/** one run's results from `start`: values by position, errors and undefined results by call index */
interface RunnerReply {
  n: number;
  start: number;
  values: unknown[];
  errors: [number, string][];
  undef: number[];
}

const HEADER = /^\{"n":(\d+),"start":(\d+),"left":(-?\d+),/;

/** how many results a reply holds and how much of the output cap is left, read from its head (undefined: not a reply) */
export function replyHead(reply: string): { n: number; left: number } | undefined {
  const m = HEADER.exec(reply.slice(0, 80));
  return m ? { n: Number(m[1]), left: Number(m[3]) } : undefined;
}

/**
 * A batch's results without an object per result: `values[i]` is call i's result unless `errors` has i.
 * Records are read from these straight, so the host makes no wrapper per result.
 */
export interface BatchResults {
  values: unknown[];
  errors: Map<number, string> | undefined;
}

/** puts the results of a reply text (one per call from its start) into `into` from index `at` on; how many */
export function decodeReplyInto(text: string, into: BatchResults, at: number): number {
  const reply = JSON.parse(text) as RunnerReply;
  const { values } = into;
  const n = reply.values.length;
  for (let i = 0; i < n; i++) values[at + i] = reply.values[i];
  const base = at - reply.start;
  for (const i of reply.undef) values[base + i] = undefined;
  for (const [i, error] of reply.errors) (into.errors ??= new Map()).set(base + i, String(error));
  return n;
}

/** the results of a reply text, one per call from its start */
export function decodeReply(text: string): CallResult[] {
  const reply = JSON.parse(text) as RunnerReply;
  const out: CallResult[] = new Array(reply.values.length);
  for (let i = 0; i < reply.values.length; i++) out[i] = { ok: true, value: reply.values[i] };
  for (const i of reply.undef) out[i - reply.start] = { ok: true, value: undefined };
  for (const [i, error] of reply.errors) out[i - reply.start] = { ok: false, error: String(error) };
  return out;
}
