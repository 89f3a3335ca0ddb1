import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { SlowFirstSequencer } from './test/setup/slow-first.js';

export default defineConfig({
  test: {
    // Every file shares its worker's process and module graph (isolate: false) instead of a fresh process
    // per file: importing took longer than most files run, and the suite is CPU-bound on 2 cores (about
    // 2.5 s of a worker's time per integration file went to its fresh process and imports). The servers,
    // agents, browsers and children a file starts are its own and stopped in its afterAll/afterEach, and
    // each file uses its own databases, Redis databases, topics and directories.
    // *.test.tsx: tests of the editor's modules, type-checked with the browser code (editor/tsconfig.json)
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/unit/**/*.test.tsx'], isolate: false } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'], isolate: false } },
    ],
    // private PostgreSQL, MariaDB and mongo-java-server for the run, unless PG_URL, MYSQL_URL, ... are given
    globalSetup: ['test/setup/global-services.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // the slowest files start first (test/setup/slow-first.ts)
    sequence: { sequencer: SlowFirstSequencer },
    // vitest's default is one worker fewer than the cores: 1 on a 2-core machine, so the files ran one after
    // another. Most of the suite waits on servers, agents and timers, not on the CPU: at least 3 workers
    // (SLUICE_TEST_WORKERS overrides). Files that run at once use their own databases, Redis databases,
    // topics and binlog server ids.
    maxWorkers: Number(process.env.SLUICE_TEST_WORKERS) || Math.max(3, availableParallelism()),
    // a browser step waits for the page to catch up: 1 s (the default) is too short on a loaded 2-core machine
    expect: { poll: { timeout: 10_000 } },
  },
});
