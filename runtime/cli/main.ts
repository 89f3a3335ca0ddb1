/**
 * The `sluice` command. Exit codes: 0 success (or a graceful stop), 2 a user error (one line on
 * stderr), 1 a failure at run time. The node catalog is handed in by bin/sluice.js: the runtime never
 * imports a concrete node type.
 */
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { FlowValidationError, UserError, errorMessage, formatIssue, type FlowIssue } from '../errors.js';
import { FileRoots, unconfinedFiles } from '../files.js';
import { DEFAULT_ENV_PREFIX } from '../flow/env.js';
import type { HostPolicy } from '../host-policy.js';
import { compileFlowText, type CompiledFlow } from '../flow/compile.js';
import { LaneCoordinator, type LanesResult } from '../executor/lanes/coordinator.js';
import { laneProblems } from '../executor/lanes/plan.js';
import { lanesSummary } from '../executor/lanes/summary.js';
import { hasErrors, validateFlowText, type ValidationResult } from '../flow/validate.js';
import { FlowRun, type RunSummary } from '../executor/flow-run.js';
import { InProcessLockService } from '../lock/lock.js';
import type { Logger } from '../node-api.js';
import { redactText } from '../redact.js';
import type { NodeRegistry } from '../registry.js';
import { nodeReference } from '../node-reference.js';
import { SqliteCheckpointStore } from '../state/sqlite-checkpoint-store.js';
import { countingDeadLetters } from '../state/counting-store.js';
import { shutdownSandbox } from '../sandbox/sandbox.js';
import { readEnvFile } from './env-file.js';
import { readFlowFile } from './flow-file.js';
import { positionsCommand, type PositionsOptions } from './positions.js';
import { startHookServer, type HookServer } from './hooks.js';
import { missingVariables, missingVariablesReport } from './missing-env.js';
import { Progress, progressSummary, tableLines } from './progress.js';
import { serveMetrics } from './metrics-endpoint.js';
import { fdDestination, jsonLog } from '../log/json-log.js';
import { RunMetrics } from '../metrics/run-metrics.js';
import { testCommand, type TestCommandOptions } from '../testing/command.js';
import { runOnSchedule, type ScheduledRunHandle } from './scheduled-run.js';
import { flowSecrets, testConnectionCommand, testEntries } from './test-connection.js';

export const DEFAULT_STATE = './data/sluice-state.db';

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
};

const portNumber = (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number, 0 to 65535 (0: any free port)');
  return n;
};

const collect = (v: string, previous: string[] = []) => [...previous, v];

interface PolicyFlags {
  files?: string[];
  envAllow?: string[];
  envPrefix?: string[];
}

/** `--files`, `--env-allow`, `--env-prefix` on run and validate: the CLI is unconfined unless they are given */
function withPolicyFlags(cmd: Command): Command {
  return cmd
    .option('--files <dir>', 'confine the files the flow reads and writes to this directory (repeatable; relative paths in the flow resolve against the first)', collect)
    .option('--env-allow <name>', 'resolve ${env:NAME} only for this name and names with an allowed prefix, and never in code (repeatable)', collect)
    .option('--env-prefix <prefix>', `with --env-allow or alone: env names starting with it resolve (repeatable; default ${DEFAULT_ENV_PREFIX} once either is given)`, collect);
}

/** the host policy the flags ask for; the state file (`sluice run --state`) stays unreachable inside the roots */
function cliPolicy(flags: PolicyFlags, stateFile?: string): HostPolicy | undefined {
  const policy: HostPolicy = {};
  if (flags.files?.length) policy.files = new FileRoots({ roots: flags.files, protect: stateFile ? [{ path: stateFile, label: 'the state file' }] : [] });
  if (flags.envAllow?.length || flags.envPrefix?.length) policy.env = { prefixes: flags.envPrefix ?? [DEFAULT_ENV_PREFIX], allow: flags.envAllow ?? [] };
  return policy.files || policy.env ? policy : undefined;
}

const stderrLog: Logger = {
  info: (m) => process.stderr.write(`${redactText(m)}\n`),
  warn: (m) => process.stderr.write(`warning: ${redactText(m)}\n`),
  error: (m) => process.stderr.write(`error: ${redactText(m)}\n`),
};

export async function main(argv: string[], registry: NodeRegistry): Promise<number> {
  let exitCode = 0;
  const program = new Command()
    .name('sluice')
    .description('Run and check Sluice flow documents (YAML or JSON)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .addHelpText('after', '\nAlso:\n  sluice serve [--port N] [--host H] [--data DIR] [--files DIR] [--env-allow NAME]   the server and the browser editor (default http://localhost:8080)' +
        '\n  sluice users add|list|remove|passwd …            who may sign in (sluice users --help)' +
        '\n  sluice api-keys create|list|revoke …            keys for scripts (sluice api-keys --help)' +
        '\n  sluice secrets rotate-key [--data DIR] [--new-key KEY]   re-encrypt the stored connection secrets under a new key');

  withPolicyFlags(program.command('run'))
    .description('run a flow until its sources end or it is stopped (Ctrl-C stops gracefully and commits)')
    .argument('<flow>', 'flow document, .yaml or .json')
    .option('--preview <n>', 'test run: read at most N records per source and write nothing', positiveInt)
    .option('--json', 'print a JSON summary on stdout at the end')
    .option('--state <path>', 'where positions and dead letters are kept', DEFAULT_STATE)
    .option('--from-start', 'forget committed positions and read from the beginning')
    .option('--once', 'a flow with settings.schedule: run it once now instead of at the schedule\'s times')
    .option('--quiet', 'no progress display')
    .option('--env-file <file>', 'read ${env:NAME} values from this KEY=VALUE file (variables already set in the environment win)')
    .option('--log-format <format>', 'text (default) or json: JSON lines on stderr with the flow and node of each line, for a log collector', (v: string) => {
      if (v !== 'text' && v !== 'json') throw new InvalidArgumentError('must be text or json');
      return v;
    })
    .option('--metrics-port <n>', 'serve the run\'s Prometheus metrics at http://127.0.0.1:N/metrics while it runs (0: any free port, printed on stderr)', portNumber)
    .option('--metrics-host <host>', 'the address --metrics-port listens on (default 127.0.0.1: there is no authentication)', '127.0.0.1')
    .option('--check', 'validate the flow and test each of its connections, without running it (exit 0: all reached, 1: one failed, 2: invalid)')
    .option('--hooks-port <port>', 'serve the webhooks of its http.source nodes at POST http://HOST:PORT/hooks/FLOW/NODE (signed requests only); also SLUICE_HOOKS_PORT', portNumber)
    .option('--hooks-host <host>', 'the address the webhooks listen on', '127.0.0.1')
    .option('--lane <i/n>', 'internal: run as lane I of N of a flow with settings.lanes (started by the run that coordinates them)', laneArg)
    .action(async (file: string, opts: RunOptions) => {
      exitCode = await runCommand(file, opts, registry);
    });

  withPolicyFlags(program.command('validate'))
    .description('check flow documents; prints every problem with where it is on stdout, and one line on stderr for each invalid file')
    .argument('<flows...>', 'flow documents, .yaml or .json')
    .option('--json', 'print the problems as JSON (an array when there are several files)')
    .action((files: string[], opts: { json?: boolean } & PolicyFlags) => {
      exitCode = validateCommand(files, opts, registry);
    });

  program
    .command('nodes')
    .description('list the node types, with each config as JSON Schema under --json, or as the Markdown reference (docs/nodes.md) under --markdown')
    .option('--json', 'the full catalog as JSON')
    .option('--markdown', 'the node reference in Markdown: ports and config fields of every node type')
    .action((opts: { json?: boolean; markdown?: boolean }) => {
      const catalog = registry.catalog();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(catalog, null, 2)}\n`);
        return;
      }
      if (opts.markdown) {
        process.stdout.write(nodeReference(catalog));
        return;
      }
      const width = Math.max(...catalog.map((t) => t.type.length));
      for (const t of catalog) process.stdout.write(`${t.type.padEnd(width)}  ${t.category.padEnd(11)}  ${t.description}\n`);
    });

  program
    .command('test-connection')
    .description('connect and say what was reached (and whether CDC would work), or what is wrong and how to fix it')
    .argument('<target>', 'a URL (postgres://, mysql://, mongodb://...) or a flow document')
    .argument('[name]', "with a flow document: the name of one of its `connections:` (default: each of them)")
    .option('--json', 'print the results as JSON')
    .option('--timeout <ms>', 'give up after this long', positiveInt, 10_000)
    .action(async (target: string, name: string | undefined, opts: { json?: boolean; timeout: number }) => {
      exitCode = await testConnectionCommand(target, name, opts, registry);
    });

  program
    .command('positions')
    .description("show a flow's committed positions in words (and their history), or set them by hand while it is not running")
    .argument('<flow>', 'flow document, .yaml or .json (its name keys the positions)')
    .option('--state <path>', 'the state file the flow runs with (sluice run --state)', DEFAULT_STATE)
    .option('--set <node=value>', 'a new position: the words shown (LSN 16/B374D848, binlog FILE:POS, after record N …), JSON, or start (repeatable)', collect)
    .option('--reset-state', 'also forget the state of aggregates and denormalize nodes, taken at the old positions')
    .option('--dry-run', 'say what the change would replay or skip, change nothing')
    .option('--history <n>', 'history entries shown', positiveInt, 10)
    .option('--json', 'print JSON')
    .action(async (file: string, opts: PositionsOptions) => {
      exitCode = await positionsCommand(file, opts, registry);
    });

  program
    .command('test')
    .description('run the flow tests in FLOW.tests.yaml (or every *.tests.yaml of a directory): exit 0 all pass, 1 a difference, 2 an invalid file')
    .argument('<target>', 'a flow document, or a directory of flows with their .tests.yaml')
    .option('--record', 'record a test from a fresh preview run of the flow into FLOW.tests.yaml')
    .option('--name <name>', 'with --record: the name of the test (replaced if it exists)', 'default')
    .option('--limit <n>', 'with --record: records read per source', positiveInt, 10)
    .option('--timeout <ms>', 'stop each preview after this long', positiveInt, 60_000)
    .action(async (target: string, opts: TestCommandOptions) => {
      exitCode = await testCommand(target, opts, registry);
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UserError) {
      const more = err instanceof FlowValidationError && err.issues.filter((i) => i.severity === 'error').length > 1;
      userErrorLine(`${err.message}${more ? ` — \`sluice validate ${err.file ?? 'FLOW'}\` lists every problem` : ''}`);
      return 2;
    }
    throw err;
  } finally {
    shutdownSandbox(); // the sandbox worker processes, if a node left any
  }
}

/** a user mistake as one line on stderr, whatever it holds */
function userErrorLine(message: string): void {
  process.stderr.write(`sluice: ${redactText(message).replace(/[\r\n]+/g, ' ')}\n`);
}

/** every file checked, each problem listed on stdout; 2 when any file is invalid or unreadable, with one stderr line for each */
function validateCommand(files: string[], opts: { json?: boolean } & PolicyFlags, registry: NodeRegistry): number {
  const policy = cliPolicy(opts);
  const reports: { file: string; valid: boolean; issues: FlowIssue[] }[] = [];
  for (const file of files) {
    let result: ValidationResult;
    try {
      result = validateFlowText(readFlowFile(file), registry, { fileName: file, env: process.env, policy });
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      userErrorLine(err.message);
      reports.push({ file, valid: false, issues: [{ path: '', severity: 'error', message: err.message }] });
      continue;
    }
    const valid = !hasErrors(result.issues);
    reports.push({ file, valid, issues: result.issues });
    if (!opts.json) {
      for (const issue of result.issues) process.stdout.write(`${file}: ${issue.severity}: ${formatIssue(issue)}\n`);
      if (valid) process.stdout.write(`${file}: valid (${result.flow!.nodes.length} nodes, ${result.flow!.edges.length} edges)\n`);
    }
    // the one line a script or a person needs; the list on stdout says the rest
    if (!valid) userErrorLine(new FlowValidationError(result.issues, file).message);
  }
  if (opts.json) {
    const out = files.length === 1 ? { valid: reports[0].valid, issues: reports[0].issues } : reports;
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  }
  return reports.every((r) => r.valid) ? 0 : 2;
}

type RunOptions = { lane?: { index: number; count: number }; preview?: number; json?: boolean; state: string; fromStart?: boolean; once?: boolean; quiet?: boolean; envFile?: string; check?: boolean; hooksPort?: number; hooksHost: string; metricsPort?: number; metricsHost: string; logFormat?: 'text' | 'json' } & PolicyFlags;

function hooksPortFromEnv(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  try {
    return portNumber(v);
  } catch (err) {
    throw new UserError(`SLUICE_HOOKS_PORT=${v.slice(0, 40)}: ${errorMessage(err)}`);
  }
}

async function runCommand(file: string, opts: RunOptions, registry: NodeRegistry): Promise<number> {
  const policy = cliPolicy(opts, opts.state);
  const env = opts.envFile ? { ...readEnvFile(opts.envFile), ...process.env } : process.env;
  const text = readFlowFile(file);
  const missing = missingVariables(text, env, file);
  if (missing.length > 0) {
    process.stderr.write(`sluice: ${missingVariablesReport(file, missing)}\n`);
    return 2;
  }
  const plan = compileFlowText(text, registry, { file, env, policy });
  if (opts.check) {
    const entries = Object.entries(plan.flow.connections ?? {}).map(([name, c]) => ({ name, type: String(c.type), config: c as Record<string, unknown> }));
    if (entries.length === 0) process.stdout.write(`${file}: valid; no connections to test\n`);
    return testEntries(entries, { json: opts.json, timeout: 10_000 }, registry, policy?.files ?? unconfinedFiles());
  }
  for (const w of plan.warnings) if (w.severity === 'warning') process.stderr.write(`${file}: warning: ${formatIssue(w)}\n`);
  if (!opts.preview && !opts.lane && plan.flow.settings.lanes > 1) return runInLanes(file, plan, opts);
  if (opts.lane) {
    // a lane: its host shows progress and the summary (from this lane's JSON on stdout); no ports of its own
    opts = { ...opts, quiet: true, json: true, metricsPort: undefined, hooksPort: undefined };
    // a killed host leaves the lane's pipes closed: a log line then must not end the lane before it commits
    process.stderr.on('error', () => undefined);
    process.stdout.on('error', () => undefined);
  }
  const hooksPort = opts.hooksPort ?? hooksPortFromEnv(process.env.SLUICE_HOOKS_PORT);
  let hooks: HookServer | undefined;
  if (hooksPort !== undefined && !opts.preview) {
    try {
      hooks = await startHookServer(hooksPort, opts.hooksHost);
    } catch (err) {
      throw new UserError(`cannot serve the webhooks on ${opts.hooksHost}:${hooksPort}: ${errorMessage(err)}`);
    }
    process.stderr.write(`webhooks at ${hooks.url}/hooks/${plan.flow.name}/NODE\n`);
  }
  const store = opts.preview ? undefined : new SqliteCheckpointStore(resolve(opts.state));
  let deadLetters = 0;
  const metrics = opts.metricsPort === undefined ? undefined : new RunMetrics(() => [{ flowId: plan.flow.name, status: run.status, nodes: run.stats(), deadLetters, progress: run.progress() }]);
  // the run sees the store through this view, which counts dead letters for the metrics
  const countingStore = store && countingDeadLetters(store, (n) => (deadLetters += n));
  // JSON lines carry the flow's secret values masked too, as the text lines carry URL passwords masked
  const log = opts.logFormat === 'json' ? jsonLog(fdDestination(2), { base: { flow: plan.flow.name }, redact: (t) => redactText(t, flowSecrets(plan, registry)) }) : stderrLog;
  const newRun = (fromStart: boolean | undefined): FlowRun =>
    new FlowRun(plan, {
      observer: metrics?.watch(plan.flow.name, { queueDepths: () => run.queueDepths() }),
      store: countingStore,
      locks: new InProcessLockService(),
      preview: opts.preview ? { limit: opts.preview, sample: opts.preview } : undefined,
      fromStart,
      log,
      ...(hooks ? { endpoints: hooks.endpoints } : {}),
      ...(opts.lane ? { lane: opts.lane } : {}),
    });
  let run: FlowRun = newRun(opts.fromStart);
  // a lane runs once, as its coordinating host asks
  const schedule = !opts.preview && !opts.once && !opts.lane ? plan.flow.settings.schedule : undefined;
  if (opts.lane) {
    // the coordinating host asks a lane to stop over IPC, and a lane whose host went stops too
    process.on('message', (m: { t?: string }) => m?.t === 'stop' && run.stop());
    process.on('disconnect', () => run.stop());
  }
  const endpoint = metrics && (await serveMetrics(metrics, opts.metricsPort!, opts.metricsHost).catch(async (err) => {
    await store?.close();
    throw err;
  }));
  metrics?.collectProcessMetrics();
  if (endpoint) process.stderr.write(`metrics at http://${opts.metricsHost}:${endpoint.port}/metrics\n`);
  let signals = 0;
  const onSignal = (sig: string) => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`\n${sig} again: exiting now without waiting\n`);
      process.exit(130);
    }
    process.stderr.write(`\n${sig}: stopping ${plan.flow.name} (finishing the batches in flight; ${sig} again to exit at once)\n`);
    if (scheduled) void scheduled.stop();
    else run.stop();
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  // a flow on a schedule runs at its times until stopped; each run's summary as it ends
  let scheduled: ScheduledRunHandle | undefined;
  if (schedule) {
    if (opts.fromStart) await store!.reset(plan.flow.name);
    scheduled = runOnSchedule({
      flow: plan.flow.name,
      schedule,
      sinks: plan.nodes.filter((n) => n.type.outputs.length === 0).map((n) => n.id),
      store: store!,
      runOnce: (fromStart) => {
        run = newRun(fromStart);
        return run.run();
      },
      stopCurrent: () => run.stop(),
      report: (s) => (opts.json ? process.stdout.write(`${JSON.stringify(s)}\n`) : printSummary(s, false)),
      log: { info: (m) => log.info(m), warn: (m) => log.warn(m), error: (m) => log.error(m) },
    });
    process.stderr.write(`${plan.flow.name} runs on the schedule ${schedule.cron}${schedule.timezone ? ` (${schedule.timezone})` : ''} until stopped (Ctrl-C); next at ${scheduled.next(1)[0] ?? 'never'}\n`);
  }
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  if (scheduled) {
    try {
      await scheduled.done;
    } finally {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      await hooks?.close();
      await endpoint?.close();
      await store?.close();
    }
    return 0;
  }
  const progress = opts.quiet || opts.json || opts.preview ? undefined : new Progress(run);
  progress?.start();
  let summary: RunSummary;
  try {
    summary = await run.run();
  } finally {
    progress?.stop();
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    await hooks?.close();
    await endpoint?.close();
    await store?.close();
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else printSummary(summary, Boolean(opts.preview));
  if (summary.status === 'failed') {
    process.stderr.write(`sluice: ${redactText(summary.error ?? '')}\n`);
    return summary.userError ? 2 : 1;
  }
  return 0;
}

/** settings.lanes > 1: the flow's lanes as child processes of this one (executor/lanes/coordinator.ts) */
async function runInLanes(file: string, plan: CompiledFlow, opts: RunOptions): Promise<number> {
  const problems = laneProblems(plan);
  if (problems.length > 0) {
    for (const p of problems) process.stderr.write(`${file}: ${p.message}\n`);
    return 2;
  }
  const count = plan.flow.settings.lanes;
  const lanes = new LaneCoordinator({
    count,
    script: process.argv[1],
    args: process.argv.slice(2),
    log: (line) => process.stderr.write(`${line}\n`),
    // tests find the lanes' pids here
    onStart: (i, pid) => process.env.SLUICE_LANE_PIDS_LOG && process.stderr.write(`lane ${i + 1} pid ${pid}\n`),
  });
  if (!opts.quiet && !opts.json) process.stderr.write(`${plan.flow.name}: ${count} lanes\n`);
  let signals = 0;
  const onSignal = (sig: string) => {
    signals++;
    if (signals > 1) process.exit(130);
    process.stderr.write(`\n${sig}: stopping ${plan.flow.name} (every lane finishes its batches in flight)\n`);
    lanes.stop();
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const started = Date.now();
  let result: LanesResult;
  try {
    result = await lanes.run();
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
  const summary = lanesSummary(plan.flow.name, result, Date.now() - started);
  if (opts.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  else printSummary(summary, false);
  if (summary.status === 'failed') {
    process.stderr.write(`sluice: ${redactText(summary.error ?? '')}\n`);
    return 1;
  }
  return 0;
}

function laneArg(v: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(v);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || index < 1 || count < 1 || index > count || count > 16) throw new InvalidArgumentError('must be I/N, 1 <= I <= N <= 16');
  return { index: index - 1, count };
}

function printSummary(s: RunSummary, preview: boolean): void {
  const w = (line: string) => process.stdout.write(`${line}\n`);
  if (preview && s.preview) {
    for (const [id, p] of Object.entries(s.preview)) {
      for (const [port, records] of Object.entries(p.output)) {
        w(`── ${id} → ${port} (${records.length} shown)`);
        for (const r of records) w(`  ${r.op} ${JSON.stringify(r.value)}`);
      }
      for (const r of p.errors) w(`── ${id} error: ${r.meta.error?.message} ← ${JSON.stringify(r.value)}`);
      if (p.wouldWrite) {
        const o = p.wouldWrite.ops;
        w(`── ${id} would write: ${o.c + o.r} inserts, ${o.u} updates, ${o.d} deletes`);
        for (const r of p.wouldWrite.sample.slice(0, 5)) w(`  ${r.op} ${JSON.stringify(r.value ?? r.before)}`);
      }
    }
  }
  if (s.resumedFrom) {
    w(`resumed from the committed position ${JSON.stringify(s.resumedFrom)}`);
    const read = Object.values(s.nodes).reduce((n, x) => n + x.out, 0);
    if (read === 0 && s.status === 'completed') w('nothing new to read after it; `--from-start` runs the flow again from the beginning');
  }
  w(`${s.flow}: ${s.status} in ${(s.durationMs / 1000).toFixed(2)}s`);
  for (const [id, n] of Object.entries(s.nodes)) {
    const p = s.progress?.[id];
    w(`  ${id}: in ${n.in}, out ${n.out}${n.errors ? `, errors ${n.errors}` : ''}${p ? `; ${progressSummary(p)}` : ''}`);
    if (p) for (const line of tableLines(id, p, 50)) w(`  ${line}`);
  }
  if (s.deadLetters) w(`  ${s.deadLetters} record(s) went to the dead-letter store`);
}
