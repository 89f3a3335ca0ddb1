#!/usr/bin/env node
// Entry point of the `sluice` command: wires the shipped node catalog into the runtime's CLI.
// `sluice serve`, `sluice agent`, `sluice users`, `sluice api-keys` and `sluice secrets` are the server's (server/ is not the runtime's to import).
import { main, redactText } from '../dist/runtime/host.js';
import { createRegistry } from '../dist/nodes/catalog.js';

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
  main(process.argv.slice(2), createRegistry()).then((code) => process.exit(code), fail);
}
