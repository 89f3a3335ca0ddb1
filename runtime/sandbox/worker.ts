/**
 * A sandbox worker process (forked by the pool in pool.ts): hosts the isolates of the user functions
 * the host compiles in it and answers their calls. It exits when the host goes (the IPC channel
 * closes), so a worker never outlives its host.
 */
// first: memory.ts takes V8's gc() before any isolate exists (see there)
import { ExternalMemoryWatch } from '../executor/memory.js';
import { IsolatedFunction } from './isolate-function.js';
import { UserCodeError, type FromWorker, type ToWorker } from './protocol.js';

if (!process.send) throw new Error('the sandbox worker must be started by the sandbox pool (child_process.fork)');

// each call's results leave the isolate as an external string that only a full GC frees (memory.ts);
// a worker's own heap is a few MB, so a full GC every 4 MB of results costs little and keeps it 15 MiB
// lower than every 16 (bench engine.rss-flat)
const memory = new ExternalMemoryWatch(4 * 1024 * 1024);
const functions = new Map<number, Promise<IsolatedFunction>>();
/** the functions compiled, for the watch below */
const compiled = new Set<IsolatedFunction>();
const send = (m: FromWorker) => process.send!(m);
let aliveSent = 0;
const alive = () => {
  // at most a few signs per second: the host only needs to know the worker still answers
  const now = Date.now();
  if (now - aliveSent < 200) return;
  aliveSent = now;
  send({ t: 'alive' });
};

process.on('disconnect', () => process.exit(0));

/**
 * An isolate stuck at its heap limit (isolate-function.ts, stuckAtHeapLimit) ends in a fatal abort of
 * this process, after seconds of garbage collection on a loaded machine, long enough for the host's
 * watchdog to take it for a wedged worker. This thread is free meanwhile (isolates run on their own), so
 * it sees it and ends the process at once, saying why on stderr, where the pool reads the reason.
 */
const heapWatch = setInterval(() => {
  if (compiled.size === 0) return;
  const now = Date.now();
  const rss = process.memoryUsage.rss();
  for (const fn of compiled) {
    const stuck = fn.stuckAtHeapLimit(now, rss);
    if (stuck === undefined) continue;
    process.stderr.write(`sluice sandbox worker: ${stuck}\n`); // synchronous on a pipe
    // not process.exit(): its clean-up would wait on the isolate's thread, which is stuck
    process.kill(process.pid, 'SIGKILL');
  }
}, 100);
heapWatch.unref();

process.on('message', (m: ToWorker) => {
  if (m.t === 'compile') {
    const fn = new IsolatedFunction(m.code, m.options, alive);
    const ready = fn.init().then(() => fn);
    compiled.add(fn);
    functions.set(m.fn, ready);
    ready.then(
      () => send({ t: 'compiled', fn: m.fn, arity: fn.arity }),
      (err: Error) => {
        functions.delete(m.fn);
        compiled.delete(fn);
        send({ t: 'compile-error', fn: m.fn, message: err.message, user: err instanceof UserCodeError });
      },
    );
  } else if (m.t === 'call') {
    const ready = functions.get(m.fn);
    if (!ready) {
      send({ t: 'call-error', id: m.id, message: `function ${m.fn} is not compiled in this worker` });
      return;
    }
    ready
      .then((fn) => fn.callBatch(m.json, m.count, m.bytes, m.single))
      .then(
        (segments) => {
          send({ t: 'result', id: m.id, segments });
          memory.check();
        },
        (err: Error) => send({ t: 'call-error', id: m.id, message: err.message }),
      );
  } else if (m.t === 'dispose') {
    const ready = functions.get(m.fn);
    functions.delete(m.fn);
    ready?.then(
      (fn) => {
        compiled.delete(fn);
        fn.dispose();
      },
      () => undefined,
    );
  }
});
