/**
 * Text → plain object, for YAML and JSON flow documents, keeping enough of the source to report
 * line numbers: syntax errors carry one, and validate.ts asks `locate(path)` for the others.
 */
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import type { FlowIssue } from '../errors.js';

export type Format = 'yaml' | 'json';

export interface ParsedText {
  value: unknown;
  format: Format;
  /** 1-based line of the value at a raw path (array indexes, object keys), if it can be found */
  locate(path: (string | number)[]): number | undefined;
}

export type ParseResult = { ok: true; parsed: ParsedText } | { ok: false; issues: FlowIssue[] };

export function detectFormat(text: string, fileName?: string): Format {
  if (fileName && /\.json$/i.test(fileName)) return 'json';
  if (fileName && /\.ya?ml$/i.test(fileName)) return 'yaml';
  return /^\s*[{[]/.test(text) ? 'json' : 'yaml';
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function locator(doc: Document, counter: LineCounter) {
  return (path: (string | number)[]): number | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
    }
    return undefined;
  };
}

export function parseFlowText(text: string, fileName?: string): ParseResult {
  const format = detectFormat(text, fileName);
  if (format === 'json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      const raw = (err as Error).message;
      const pos = /at position (\d+)/.exec(raw);
      // V8 quotes the whole input in some messages: keep only the part that says what is wrong
      const message = raw.replace(/, ".*" is not valid JSON$/s, '').replace(/ in JSON at position \d+.*$/s, '');
      let line = pos ? lineAt(text, Number(pos[1])) : undefined;
      if (line === undefined) {
        // JSON is YAML: the YAML parser finds the line of most JSON syntax errors
        const yamlErr = parseDocument(text, { prettyErrors: true }).errors[0];
        line = yamlErr?.linePos?.[0]?.line;
      }
      return { ok: false, issues: [{ path: '', severity: 'error', message: `JSON syntax error: ${message}`, line }] };
    }
    const counter = new LineCounter();
    const doc = parseDocument(text, { lineCounter: counter });
    return { ok: true, parsed: { value, format, locate: locator(doc, counter) } };
  }
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      // the first error is the one to fix: YAML parsers cascade after it
      issues: doc.errors.slice(0, 1).map((e) => ({
        path: '',
        severity: 'error' as const,
        message: `YAML syntax error: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
        line: e.linePos?.[0]?.line,
      })),
    };
  }
  return { ok: true, parsed: { value: doc.toJS({ maxAliasCount: 100 }), format, locate: locator(doc, counter) } };
}
