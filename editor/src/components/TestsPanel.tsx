/**
 * Tests: the saved flow's tests (GET /api/flows/:id/tests). "Save as test" keeps the finished test run
 * (what each source gave, what each sink would have written) under a name; Run one or Run all runs them
 * against the saved latest version; a failed test lists its differences (sink, record, field) and marks
 * the nodes that differ on the canvas (store.testMarks). Test hooks: tests-panel, test-name,
 * test-save, tests-run-all, test-row-<name>, test-run-<name>, test-delete-<name>, test-result-<name>,
 * tests-error.
 */
import { useCallback, useEffect, useState } from 'react';
import type { FlowTestBody, FlowTestInfo, TestRecord, TestRunAnswer } from '../api.js';
import { describeError } from '../store-flow.js';
import { useApi, useEditor, useStoreApi, type EditorState } from '../store.js';
import { fmtTime } from './AdminCommon.js';
import { DataTable } from './DataTable.js';

type Result = TestRunAnswer['results'][number];

const asTestRecord = (r: { key: unknown; op: TestRecord['op']; value: unknown; before?: unknown }): TestRecord => ({
  key: r.key ?? null,
  op: r.op,
  value: (r.value ?? null) as TestRecord['value'],
  ...(r.before !== undefined ? { before: r.before as TestRecord['value'] } : {}),
});

/** the finished test run as a test: each source's output, each sink's would-write sample; null when none finished */
export function testFromRun(s: EditorState, name: string): FlowTestBody | null {
  const summary = s.preview.summary;
  if (s.preview.status !== 'done' || !summary?.preview) return null;
  const inputs: FlowTestBody['inputs'] = {};
  const expect: FlowTestBody['expect'] = {};
  for (const n of s.nodes) {
    const category = s.catalog[n.data.type]?.category;
    const p = summary.preview[n.id];
    if (category === 'source') inputs[n.id] = (p?.output.out ?? []).map(asTestRecord);
    if (category === 'sink') expect[n.id] = (p?.wouldWrite?.sample ?? []).map(asTestRecord);
  }
  return { name, inputs, expect };
}

const counted = (m: Record<string, number>) =>
  Object.entries(m)
    .map(([id, n]) => `${id} ${n}`)
    .join(', ');

/** node id → the first difference there, for the canvas */
function marksOf(results: Result[]): Record<string, string> {
  const marks: Record<string, string> = {};
  for (const r of results) {
    if (r.passed) continue;
    for (const id of r.nodes) {
      const d = r.diffs.find((x) => x.sink === id)?.differences[0];
      marks[id] ??= `test ${r.name}: ${d ? d.line : (r.error ?? 'differs')}`;
    }
  }
  return marks;
}

function ResultView({ r }: { r: Result }) {
  if (r.passed) return <span className="test-pass">passed</span>;
  return (
    <div className="test-fail" data-testid={`test-result-${r.name}`}>
      <b>failed</b>
      {r.error && <div className="mono">{r.error}</div>}
      {r.diffs.map((d) => (
        <div key={d.sink} className="test-diff">
          <div>
            sink <span className="mono">{d.sink}</span>: {d.differences.length} difference{d.differences.length === 1 ? '' : 's'}
          </div>
          <ul>
            {d.differences.slice(0, 20).map((x, i) => (
              <li key={i} className="mono">
                {x.line}
              </li>
            ))}
            {d.differences.length > 20 && <li>… and {d.differences.length - 20} more</li>}
          </ul>
        </div>
      ))}
    </div>
  );
}

export function TestsPanel() {
  const api = useApi();
  const { flowId, version, dirty, readOnly, runDone, notify, setTestMarks } = useEditor((s) => ({
    flowId: s.flowId,
    version: s.baseVersion,
    dirty: s.dirty,
    readOnly: s.readOnly,
    runDone: s.preview.status === 'done',
    notify: s.notify,
    setTestMarks: s.setTestMarks,
  }));
  const store = useStoreApi();
  const [tests, setTests] = useState<FlowTestInfo[] | null>(null);
  const [results, setResults] = useState<Record<string, Result>>({});
  const [name, setName] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(() => {
    if (!flowId) return;
    api.flowTests(flowId).then(
      (list) => {
        setTests(list);
        setProblem(null);
      },
      (e: Error) => setProblem(e.message),
    );
  }, [api, flowId]);
  // again on a new version too: an import over the open flow may bring tests with it
  useEffect(load, [load, version]);

  if (!flowId) return <p className="empty" data-testid="tests-panel">Save the flow, test-run it, then save the run as a test.</p>;

  const guard = async (what: () => Promise<void>) => {
    setBusy(true);
    try {
      await what();
      setProblem(null);
    } catch (err) {
      setProblem(describeError(err).text);
    } finally {
      setBusy(false);
    }
  };

  const save = () =>
    guard(async () => {
      const test = testFromRun(store.getState(), name.trim());
      if (!test) throw new Error('Test-run the flow first: a test keeps what the finished run read and would write.');
      const r = await api.saveFlowTest(flowId, test);
      notify('success', `${r.created ? 'Saved' : 'Replaced'} test ${r.name}`);
      setName('');
      load();
    });

  const run = (names?: string[]) =>
    guard(async () => {
      const answer = await api.runFlowTests(flowId, names);
      const next = { ...(names ? results : {}), ...Object.fromEntries(answer.results.map((r) => [r.name, r])) };
      setResults(next);
      setTestMarks(marksOf(Object.values(next)));
      notify(answer.failed ? 'error' : 'success', `${answer.passed} passed, ${answer.failed} failed (version ${answer.version})`);
    });

  const remove = (test: string) =>
    guard(async () => {
      await api.deleteFlowTest(flowId, test);
      const { [test]: _gone, ...rest } = results;
      setResults(rest);
      setTestMarks(marksOf(Object.values(rest)));
      load();
    });

  const why = readOnly ? 'Viewers cannot change or run tests' : dirty ? 'Save the flow first: tests run against the saved version' : !runDone ? 'Test-run the flow first' : undefined;
  const canSave = !why && name.trim() !== '' && !busy;
  return (
    <div className="tests" data-testid="tests-panel">
      <form
        className="tests-bar"
        onSubmit={(e) => {
          e.preventDefault();
          if (canSave) void save();
        }}
      >
        <label>
          Test name{' '}
          <input data-testid="test-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. doubles-totals" disabled={readOnly} maxLength={200} />
        </label>
        <button type="submit" data-testid="test-save" disabled={!canSave} title={why ?? 'Keep what the last test run read and would write as a test'}>
          Save as test
        </button>
        <button type="button" data-testid="tests-run-all" disabled={readOnly || busy || !tests?.length} onClick={() => void run()}>
          Run all
        </button>
        {why && <span className="muted">{why}.</span>}
      </form>
      {problem && (
        <p className="tests-problem" role="alert" data-testid="tests-error">
          {problem}
        </p>
      )}
      {tests && (
        <DataTable
          rows={tests}
          rowKey={(t) => t.name}
          rowProps={(t) => ({ 'data-testid': `test-row-${t.name}` })}
          hideWhenEmpty
          empty="No tests yet."
          emptyClassName="muted"
          columns={[
            { header: 'Test', className: 'mono', cell: (t) => t.name },
            { header: 'Records in', cell: (t) => counted(t.inputs) },
            { header: 'Records expected', cell: (t) => counted(t.expect) },
            { header: 'Saved', className: 'nowrap', cell: (t) => `${fmtTime(t.savedAt)}${t.author ? ` by ${t.author}` : ''}` },
            { header: 'Result', cell: (t) => (results[t.name] ? <ResultView r={results[t.name]} /> : <span className="muted">not run</span>) },
            {
              header: 'Actions',
              className: 'actions',
              cell: (t) => (
                <>
                  <button type="button" data-testid={`test-run-${t.name}`} disabled={readOnly || busy} onClick={() => void run([t.name])}>
                    Run
                  </button>
                  <button type="button" data-testid={`test-delete-${t.name}`} disabled={readOnly || busy} onClick={() => void remove(t.name)} aria-label={`Delete test ${t.name}`}>
                    Delete
                  </button>
                </>
              ),
            },
          ]}
        />
      )}
    </div>
  );
}
