/**
 * ScheduledFlow's kept runs: restored from the history newest first, a run that was going when its host
 * stopped is recorded as interrupted, and a run's state changes are written (not every status tick).
 */
import { describe, expect, it } from 'vitest';
import { ScheduledFlow, type ScheduledRun } from '../../runtime/deploy/schedule.js';

const quiet = { info() {}, warn() {}, error() {} };

function scheduled(past: ScheduledRun[]) {
  const written: ScheduledRun[] = [];
  const flow = new ScheduledFlow({
    flowId: 'f',
    schedule: { cron: '0 0 1 1 *', from: 'start' },
    sinks: ['out'],
    busy: () => false,
    start: async () => {},
    log: quiet,
    paused: true,
    history: { record: async (r) => void written.push(r), load: async () => past.map((r) => ({ ...r })) },
  });
  return { flow, written };
}

describe('scheduled runs kept across restarts', () => {
  it('restores the runs newest first; one that was going reads interrupted and is written so', async () => {
    const { flow, written } = scheduled([
      { startedAt: '2026-01-01T00:02:00.000Z', status: 'running', records: 3, errors: 0 },
      { startedAt: '2026-01-01T00:01:00.000Z', endedAt: '2026-01-01T00:01:05.000Z', status: 'completed', records: 9, errors: 1 },
    ]);
    await flow.restore();
    const { runs } = flow.view();
    expect(runs.map((r) => [r.startedAt.slice(11, 16), r.status])).toEqual([
      ['00:02', 'interrupted'],
      ['00:01', 'completed'],
    ]);
    expect(runs[0].error).toMatch(/host stopped/);
    expect(written).toEqual([expect.objectContaining({ startedAt: '2026-01-01T00:02:00.000Z', status: 'interrupted' })]);
    flow.stop();
  });

  it('writes a run when it starts and when its state changes, not at every status', async () => {
    const { flow, written } = scheduled([]);
    const base = { flowId: 'f', edges: [], deadLetters: 0, startedAt: '2026-01-02T00:00:00.000Z' };
    flow.observe({ ...base, status: 'running', nodes: { out: { in: 0, out: 0, errors: 0, rate: 0 } } });
    flow.observe({ ...base, status: 'running', nodes: { out: { in: 5, out: 5, errors: 0, rate: 5 } } });
    flow.observe({ ...base, status: 'running', nodes: { out: { in: 9, out: 9, errors: 0, rate: 5 } } });
    flow.observe({ ...base, status: 'completed', endedAt: '2026-01-02T00:00:02.000Z', nodes: { out: { in: 10, out: 10, errors: 0, rate: 0 } } });
    expect(written.map((r) => [r.status, r.records])).toEqual([
      ['running', 0],
      ['completed', 10],
    ]);
    flow.stop();
  });
});
