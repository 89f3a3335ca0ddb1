/**
 * What `sluice serve` (server/main.ts) and `sluice agent` (server/cluster/agent-main.ts) parse alike:
 * the option parsers, the options that give flows files and environment variables, and how a mistake
 * on the command line or at start ends the process (one line on stderr, exit 2).
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { UserError } from '../runtime/host.js';
import type { ServerLog } from './log.js';

/** commander's parser of a repeatable option */
export const collect = (v: string, previous: string[] = []) => [...previous, v];

/** commander's parser of a whole number of at least `min`; the message names `option` */
export const wholeNumber = (option: string, min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${option} must be a whole number of at least ${min}`);
  return n;
};

/** --files, --env-allow and --env-prefix: what the flows this process runs may read */
export function flowAccessOptions(program: Command, filesHelp: string): Command {
  return program
    .option('--files <dir>', filesHelp, collect)
    .option('--env-allow <name>', 'an environment variable flows may read with ${env:NAME} (repeatable); never inside code fields', collect)
    .option('--env-prefix <prefix>', 'env names starting with it are readable by flows (repeatable; default SLUICE_FLOW_)', collect);
}

/**
 * Parses `argv` with `program`, then `build`s the options from what it parsed. A mistake (commander's,
 * or an InvalidArgumentError thrown by `build`) ends the process with exit code 2; --help with 0.
 */
export function parseOptions<T>(command: string, program: Command, argv: string[], build: () => T): T {
  program.exitOverride().configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    program.parse(argv, { from: 'user' });
    return build();
  } catch (err) {
    if (err instanceof InvalidArgumentError) process.stderr.write(`${command}: ${err.message}\n`);
    process.exit(err instanceof CommanderError && err.exitCode === 0 ? 0 : 2);
  }
}

/** a user mistake found while starting ends the process: one line on stderr, exit 2; anything else returns */
export function exitOnUserError(command: string, err: unknown): void {
  if (err instanceof UserError) {
    process.stderr.write(`${command}: ${err.message}\n`);
    process.exit(2);
  }
}

/**
 * SIGINT and SIGTERM: the first logs `stopping(signal)` and runs `stop` (exit 0 after it, 1 when it
 * fails); a second logs `again(signal)` and exits 130 at once.
 */
export function stopOnSignals(log: ServerLog, words: { stopping: (signal: string) => string; again: (signal: string) => string }, stop: () => Promise<void>): void {
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) {
      log.warn(words.again(signal));
      process.exit(130);
    }
    stopping = true;
    log.info(words.stopping(signal));
    stop()
      .then(() => process.exit(0))
      .catch((err) => {
        log.error(`shutdown failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}
