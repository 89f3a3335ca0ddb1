/** Under the canvas: test run records, the live log, validation problems. */
import { useEditor } from '../store.js';
import { LogPanel } from './LogPanel.js';
import { PositionsPanel } from './PositionsPanel.js';
import { DeadLettersPanel } from './DeadLettersPanel.js';
import { SchedulePanel } from './SchedulePanel.js';
import { PreviewPanel } from './PreviewPanel.js';
import { ProblemsPanel } from './ProblemsPanel.js';
import { TestsPanel } from './TestsPanel.js';

export function BottomPanel() {
  const { panel, setPanel, logs, problems, live, dead, failing } = useEditor((s) => ({
    dead: s.live?.deadLetters ?? 0,
    failing: Object.keys(s.testMarks).length,
    panel: s.panel,
    setPanel: s.setPanel,
    logs: s.logs.length,
    problems: s.issues.length,
    live: s.live?.status,
  }));
  return (
    <section className="bottom-panel">
      <div className="tabs" role="tablist">
        <button role="tab" className={panel === 'preview' ? 'on' : ''} onClick={() => setPanel('preview')} data-testid="tab-preview">
          Preview
        </button>
        <button role="tab" className={panel === 'logs' ? 'on' : ''} onClick={() => setPanel('logs')} data-testid="tab-logs">
          Logs {logs > 0 && <span className="count">{logs}</span>}
          {live === 'running' && <span className="live-dot" title="deployed and running" />}
        </button>
        <button role="tab" className={panel === 'problems' ? 'on' : ''} onClick={() => setPanel('problems')} data-testid="tab-problems">
          Problems {problems > 0 && <span className="count err">{problems}</span>}
        </button>
        <button role="tab" className={panel === 'positions' ? 'on' : ''} onClick={() => setPanel('positions')} data-testid="tab-positions" title="Where each source resumes; rewind or skip ahead">
          Positions
        </button>
        <button role="tab" className={panel === 'dead-letters' ? 'on' : ''} onClick={() => setPanel('dead-letters')} data-testid="tab-dead-letters" title="Records that failed: replay or discard them">
          Dead letters {dead > 0 && <span className="count err">{dead}</span>}
        </button>
        <button role="tab" className={panel === 'schedule' ? 'on' : ''} onClick={() => setPanel('schedule')} data-testid="tab-schedule" title="Runs of a flow deployed on a schedule">
          Schedule
        </button>
        <button role="tab" className={panel === 'tests' ? 'on' : ''} onClick={() => setPanel('tests')} data-testid="tab-tests" title="The flow's tests: save a test run as one, run them">
          Tests {failing > 0 && <span className="count err">{failing}</span>}
        </button>
      </div>
      <div className="panel-body">{panel === 'preview' ? <PreviewPanel /> : panel === 'logs' ? <LogPanel /> : panel === 'positions' ? <PositionsPanel /> : panel === 'dead-letters' ? <DeadLettersPanel /> : panel === 'schedule' ? <SchedulePanel /> : panel === 'tests' ? <TestsPanel /> : <ProblemsPanel />}</div>
    </section>
  );
}
