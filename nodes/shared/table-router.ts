/**
 * One sink node over many tables ("conversion mode"): a sink whose `table` (or `collection`) holds a
 * placeholder — `{table}`, `{schema}` — writes each record to the table its source named
 * (`record.meta.table`, `schema.table` or `table`): `table: copy.{table}` copies `shop.orders` into
 * `copy.orders`, `shop.lines` into `copy.lines`. Each resolved table gets its own instance of the sink
 * (created and opened on its first record, so `createTable` creates it), at most `maxOpen` open at once
 * (the least recently used is closed first: every write to it has finished by then). A batch is split by
 * table, order kept within a table; the batch is acknowledged once every table's part is written. The
 * parts are separate transactions: after a crash between two of them the batch is delivered again,
 * which idempotent upserts by key absorb.
 */
import { NodeError, type NodeContext, type SinkInstance, type SluiceRecord, type TableReport } from '../../runtime/index.js';

const PLACEHOLDER = /\{(table|schema)\}/g;

/** `copy.{table}` routes by table; `orders` does not */
export function routesByTable(template: string): boolean {
  return /\{(table|schema)\}/.test(template);
}

/** the placeholders of `template` filled from a source table name (`shop.orders` → schema shop, table orders) */
export function resolveTableName(template: string, sourceTable: string): string {
  const dot = sourceTable.lastIndexOf('.');
  const parts = { schema: dot < 0 ? '' : sourceTable.slice(0, dot), table: dot < 0 ? sourceTable : sourceTable.slice(dot + 1) };
  return template.replace(PLACEHOLDER, (_, p: 'table' | 'schema') => parts[p]);
}

/**
 * A sink node type's `create()`: `make(ctx)`, or a TableRouter that makes one sink per resolved table
 * when the config's `field` (`table`, `collection`) holds a placeholder.
 */
export function sinkPerTable<C extends object>(ctx: NodeContext<C>, field: keyof C & string, make: (ctx: NodeContext<C>) => SinkInstance): SinkInstance {
  const template = ctx.config[field];
  if (typeof template !== 'string' || !routesByTable(template)) return make(ctx);
  return new TableRouter(ctx.nodeId, field, template, (table) => make({ ...ctx, config: { ...ctx.config, [field]: table } }));
}

export class TableRouter implements SinkInstance {
  readonly kind = 'sink' as const;
  /** open sinks by resolved table, least recently used first */
  private readonly open_ = new Map<string, SinkInstance>();
  /** the conversion reports of the sinks closed so far */
  private readonly closedReports: TableReport[] = [];

  constructor(
    private readonly nodeId: string,
    /** the config field that holds the template, for messages */
    private readonly field: string,
    private readonly template: string,
    private readonly make: (table: string) => SinkInstance | Promise<SinkInstance>,
    private readonly maxOpen = 8,
  ) {}

  async open(): Promise<void> {
    // each table's sink opens on its first record
  }

  async write(records: SluiceRecord[]): Promise<void> {
    const groups = new Map<string, SluiceRecord[]>();
    for (const r of records) {
      const source = r.meta.table;
      if (typeof source !== 'string' || source === '') {
        throw new NodeError(
          this.nodeId,
          `${this.field} ${JSON.stringify(this.template)} names the table by the record's source table, but a record (key ${JSON.stringify(r.key)}) has none (meta.table): use a source that reads tables, or a fixed ${this.field}`,
        );
      }
      const table = resolveTableName(this.template, source);
      const group = groups.get(table);
      if (group) group.push(r);
      else groups.set(table, [r]);
    }
    for (const [table, group] of groups) await (await this.sinkFor(table)).write(group);
  }

  async close(): Promise<void> {
    const sinks = [...this.open_.values()];
    this.open_.clear();
    const results = await Promise.allSettled(sinks.map((s) => s.close()));
    for (const s of sinks) this.closedReports.push(...(s.report?.() ?? []));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** a test run: each table's sink plans its report from its records (none is opened) */
  async previewReport(records: SluiceRecord[]): Promise<TableReport[]> {
    const groups = new Map<string, SluiceRecord[]>();
    for (const r of records) {
      if (typeof r.meta.table !== 'string' || r.meta.table === '') continue;
      const table = resolveTableName(this.template, r.meta.table);
      groups.set(table, [...(groups.get(table) ?? []), r]);
    }
    const out: TableReport[] = [];
    for (const [table, group] of groups) {
      const sink = await this.make(table);
      out.push(...((await sink.previewReport?.(group)) ?? []));
    }
    return out;
  }

  report(): TableReport[] {
    return [...this.closedReports, ...[...this.open_.values()].flatMap((s) => s.report?.() ?? [])];
  }

  /** the tables written so far that are still open */
  tables(): string[] {
    return [...this.open_.keys()];
  }

  private async sinkFor(table: string): Promise<SinkInstance> {
    const open = this.open_.get(table);
    if (open) {
      this.open_.delete(table);
      this.open_.set(table, open); // most recently used last
      return open;
    }
    while (this.open_.size >= this.maxOpen) {
      const [oldest, sink] = this.open_.entries().next().value as [string, SinkInstance];
      this.open_.delete(oldest);
      await sink.close();
      this.closedReports.push(...(sink.report?.() ?? []));
    }
    const sink = await this.make(table);
    await sink.open();
    this.open_.set(table, sink);
    return sink;
  }
}
