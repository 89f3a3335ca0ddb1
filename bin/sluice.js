#!/usr/bin/env -S node --max-semi-space-size=4
// Entry point of the `sluice` command: wires the shipped node catalog into the runtime's CLI.
// --max-semi-space-size=4 (MB, V8's default 16): a flow's host keeps 16 MiB less resident at the same speed
// (bench engine.rss-flat, which starts its flow process with the same flag, as does the Dockerfile); V8
// reads it only at start, hence here.
// `sluice serve`, `sluice agent`, `sluice users`, `sluice api-keys` and `sluice secrets` are the server's (server/ is not the runtime's to import).
import { main, redactText } from '../dist/runtime/host.js';

const fail = (err) => {
  process.stderr.write(`sluice: internal error: ${redactText(String(err && err.stack ? err.stack : err))}\n`);
  process.exit(1);
};

if (process.argv[2] === 'serve') {
  import('../dist/server/main.js').then(({ cli }) => cli(process.argv.slice(3))).catch(fail);
} else if (process.argv[2] === 'agent') {
  // an agent of the cluster reads flows and connections from the server's stores
  import('../dist/server/cluster/agent-main.js').then(({ cli }) => cli(process.argv.slice(3))).catch(fail);
} else if (process.argv[2] === 'secrets') {
  import('../dist/server/secrets-cli.js').then(({ cli }) => cli(process.argv.slice(3))).then((code) => process.exit(code), fail);
} else if (process.argv[2] === 'users' || process.argv[2] === 'api-keys') {
  // users and API keys live in the server's control store
  import('../dist/server/users-cli.js').then(({ cli }) => cli(process.argv.slice(2))).then((code) => process.exit(code), fail);
} else {
  // the node catalog only where the runtime's commands need it: `sluice users` and the like start without it
  import('../dist/nodes/catalog.js').then(({ createRegistry }) => main(process.argv.slice(2), createRegistry())).then((code) => process.exit(code), fail);
}
