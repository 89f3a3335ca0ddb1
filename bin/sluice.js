#!/usr/bin/env node
// Entry point of the `sluice` command: wires the shipped node catalog into the runtime's CLI.
import { main } from '../dist/runtime/cli/main.js';
import { createRegistry } from '../dist/nodes/catalog.js';

main(process.argv.slice(2), createRegistry()).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`sluice: internal error: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  },
);
