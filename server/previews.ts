/**
 * Test runs started over HTTP. Each runs the runtime's Preview; batches and the final summary are
 * events for sockets.ts to deliver to the asking socket (or the flow's room). A few at a time: a
 * preview reads real sources, so a burst of clicks must not open a hundred connections.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { type CompiledFlow, errorMessage, type LogLevel, Preview, type PreviewBatch, type PreviewResult } from '../runtime/host.js';
import { HttpError } from './http-errors.js';

export interface PreviewTarget {
  previewId: string;
  flowId: string;
  /** deliver to this socket only; else to every socket subscribed to the flow */
  socketId?: string;
}

export interface PreviewLogLine {
  at: string;
  level: LogLevel;
  message: string;
}

export interface PreviewEvents {
  records: [PreviewTarget & PreviewBatch];
  done: [PreviewTarget & { summary: PreviewResult; logs: PreviewLogLine[] }];
}

export interface PreviewRequest {
  flowId: string;
  plan: CompiledFlow;
  limit: number;
  sample: number;
  timeoutMs: number;
  socketId?: string;
}

const MAX_LOG_LINES = 200;

export class PreviewService extends EventEmitter<PreviewEvents> {
  private readonly running = new Map<string, { preview: Preview; done: Promise<PreviewResult> }>();

  constructor(private readonly options: { cwd: string; maxConcurrent?: number; /** masks secrets in the run's log lines */ redact?: (text: string) => string }) {
    super();
  }

  /** starts a test run; `done` resolves with its summary (also sent as the `done` event) */
  start(req: PreviewRequest): { previewId: string; done: Promise<PreviewResult> } {
    const max = this.options.maxConcurrent ?? 4;
    if (this.running.size >= max) throw new HttpError(429, `${max} test runs are already running: wait for one to end or stop one`);
    const target: PreviewTarget = { previewId: randomUUID(), flowId: req.flowId, socketId: req.socketId };
    const logs: PreviewLogLine[] = [];
    const line = (level: LogLevel) => (message: string) => {
      if (logs.length < MAX_LOG_LINES) logs.push({ at: new Date().toISOString(), level, message: this.options.redact?.(message) ?? message });
    };
    const preview = new Preview(req.plan, {
      limit: req.limit,
      sample: req.sample,
      timeoutMs: req.timeoutMs,
      cwd: this.options.cwd,
      log: { info: line('info'), warn: line('warn'), error: line('error') },
      redact: this.options.redact,
      onRecords: (batch) => this.emit('records', { ...target, ...batch }),
    });
    // started on the next turn, so the HTTP answer with the previewId is on its way before any event
    const done = new Promise<void>((r) => setImmediate(r))
      .then(() => preview.start())
      .catch((err): PreviewResult => ({
        flow: req.plan.flow.name,
        status: 'failed',
        nodes: {},
        edges: [],
        durationMs: 0,
        error: this.options.redact?.(errorMessage(err)) ?? errorMessage(err),
        positions: {},
        deadLetters: 0,
      }))
      .then((summary) => {
        this.running.delete(target.previewId);
        this.emit('done', { ...target, summary, logs });
        return summary;
      });
    this.running.set(target.previewId, { preview, done });
    return { previewId: target.previewId, done };
  }

  /** false when no such preview runs */
  stop(previewId: string): boolean {
    const r = this.running.get(previewId);
    r?.preview.stop();
    return Boolean(r);
  }

  async stopAll(): Promise<void> {
    const all = [...this.running.values()];
    for (const r of all) r.preview.stop();
    await Promise.all(all.map((r) => r.done));
  }
}
