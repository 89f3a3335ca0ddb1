/**
 * The order test files start in: the slowest first, so that none of them starts late and ends the run
 * alone while the other workers idle. vitest orders by the durations it cached in an earlier run, else by
 * file size; a clean clone (CI) has no cache, and these files are not the largest. The list is from the
 * durations `npm test` printed in CI (over 20 s each on 2 cores; denormalize-resume, 57 s, had started
 * 6 minutes into the run); the rest keep vitest's order.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

export const SLOW_FILES = [
  'test/integration/cluster-chaos.test.ts',
  'test/integration/cluster.test.ts',
  'test/integration/kafka.test.ts',
  'test/integration/cluster-postgres.test.ts',
  'test/integration/denormalize-resume.test.ts',
  'test/integration/sandbox-flows.test.ts',
  'test/unit/sandbox-pool.test.ts',
  'test/e2e/accessibility.test.ts',
  'test/integration/lanes.test.ts',
  'test/integration/keyless-kill.test.ts',
  'test/integration/cli.test.ts',
  'test/integration/auth-cli.test.ts',
  'test/integration/cli-fuzz.test.ts',
  'test/unit/aggregate.test.ts',
  'test/integration/postgres.test.ts',
  'test/integration/nats.test.ts',
  'test/integration/cli-confine.test.ts',
  'test/unit/server-limits.test.ts',
  'test/integration/secrets.test.ts',
];

export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = SLOW_FILES.findIndex((s) => f.moduleId.replaceAll('\\', '/').endsWith(s));
      return i === -1 ? SLOW_FILES.length : i;
    };
    // stable: files off the list keep the base order after the listed ones
    return base.map((f, i) => ({ f, i, r: rank(f) })).sort((a, b) => a.r - b.r || a.i - b.i).map((x) => x.f);
  }
}
