/**
 * A separate process that saves checkpoints into a PostgreSQL checkpoint store, driven line by line on
 * stdin, for the concurrent-writer tests (test/integration/checkpoint-store.test.ts):
 *
 *   node dist/test/helpers/checkpoint-writer.js URL SCHEMA AGENT
 *   stdin:  save FLOW TOKEN N        → stdout: ok N | fenced N
 *           run FLOW TOKEN FROM TO    → saves N = FROM..TO in turn, stops at the first refusal:
 *                                       stdout: done LAST_OK_N | fenced N
 *   stdin closed → the store is closed and the process exits 0.
 */
import { createInterface } from 'node:readline';
import { FencedOffError } from '../../runtime/state/checkpoint-store.js';
import { PgCheckpointStore } from '../../runtime/state/pg-checkpoint-store.js';

const [url, schema, agent] = process.argv.slice(2);
const store = await PgCheckpointStore.open(url, { schema, agent });
const say = (line: string) => process.stdout.write(`${line}\n`);

/** true when saved, false when fenced off; anything else ends the process with the error */
async function save(flow: string, token: number, n: number): Promise<boolean> {
  try {
    await store.save(flow, { positions: { src: n }, state: { by: agent } }, token);
    return true;
  } catch (err) {
    if (err instanceof FencedOffError) return false;
    throw err;
  }
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  const [cmd, flow, token, a, b] = line.trim().split(/\s+/);
  if (cmd === 'save') say(`${(await save(flow, Number(token), Number(a))) ? 'ok' : 'fenced'} ${a}`);
  else if (cmd === 'run') {
    let last = -1;
    let refused: number | undefined;
    for (let n = Number(a); n <= Number(b); n++) {
      if (!(await save(flow, Number(token), n))) {
        refused = n;
        break;
      }
      last = n;
    }
    say(refused === undefined ? `done ${last}` : `fenced ${refused}`);
  } else if (cmd) say(`unknown ${cmd}`);
}
await store.close();
