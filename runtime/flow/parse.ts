/**
 * Text → plain object, for YAML and JSON flow documents, keeping enough of the source to report
 * line numbers: syntax errors carry one, and validate.ts asks `locate(path)` for the others.
 */
import { Composer, isNode, Lexer, LineCounter, Parser, type Document, type DocumentOptions, type ParseOptions, type SchemaOptions, YAMLParseError } from 'yaml';
import type { FlowIssue } from '../errors.js';
import { checkShape, LIMITS, shapePath } from './limits.js';

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

/** V8's JSON.parse message without the input it quotes (a part of the body, newlines included): one short line */
export function jsonSyntaxMessage(raw: string): string {
  const message = raw.replace(/, ".*" is not valid JSON$/s, '').replace(/ in JSON at position \d+.*$/s, '');
  return message.replace(/\s+/g, ' ').slice(0, 200);
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

/** thrown out of the parser when the text nests deeper than the composer can safely recurse */
export class YamlTooDeep extends RangeError {}
/** thrown out of the parser when the text holds more than any flow needs (parsing it would hold the CPU for seconds) */
export class YamlTooLarge extends Error {}

/**
 * The YAML library's parseDocument, with its parser watched: the library composes a document by
 * recursion, and text nested thousands deep would exhaust the stack (in V8, near the limit, even
 * fatally). Its parser keeps an explicit stack, so the nesting is refused there, before composing.
 * Parse errors come with `linePos`, as `prettyErrors` gives them.
 */
export function parseYamlDocument(text: string, options: ParseOptions & DocumentOptions & SchemaOptions = {}): Document {
  const counter = options.lineCounter ?? new LineCounter();
  const parser = new Parser(counter.addNewLine);
  const maxStack = LIMITS.depth * 4;
  function* tokens() {
    counter.addNewLine(0);
    let count = 0;
    for (const lexeme of new Lexer().lex(text)) {
      yield* parser.next(lexeme);
      if (parser.stack.length > maxStack) throw new YamlTooDeep('nested too deeply');
      if (++count > LIMITS.yamlTokens) throw new YamlTooLarge(`more than ${LIMITS.yamlTokens} tokens`);
    }
    yield* parser.end();
  }
  let doc: Document | undefined;
  for (const d of new Composer({ ...options, lineCounter: counter }).compose(tokens(), true, text.length)) {
    if (!doc) doc = d;
    else {
      doc.errors.push(new YAMLParseError([d.range[0], d.range[1]], 'MULTIPLE_DOCS', 'Source contains multiple documents'));
      break;
    }
  }
  for (const e of [...doc!.errors, ...doc!.warnings]) if (!e.linePos && e.pos) e.linePos = [counter.linePos(e.pos[0])];
  return doc!;
}

const failure = (message: string, line?: number): ParseResult => ({ ok: false, issues: [{ path: '', severity: 'error', message, line }] });

/** the YAML library's own limits, its call stack included, said as what the user can change */
function yamlFailure(err: unknown, kind: string): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof YamlTooLarge) return `YAML: the document is too large (${msg}; a flow of ${LIMITS.nodes} nodes and ${LIMITS.edges} edges needs about 200,000)`;
  if (err instanceof RangeError || /call stack/i.test(msg)) return `${kind}: nested more than ${LIMITS.depth} levels deep`;
  if (/alias count/i.test(msg)) return `${kind}: too many aliases (at most ${LIMITS.aliases} uses of *anchor in one document)`;
  return `${kind}: ${msg.split('\n')[0]}`;
}

/** a document that is not plain bounded data → the problem, with the line when it is known */
function shapeFailure(value: unknown, locate: ParsedText['locate']): ParseResult | undefined {
  const problem = checkShape(value);
  if (!problem) return undefined;
  return { ok: false, issues: [{ path: shapePath(problem.path), severity: 'error', message: problem.message, line: safeLocate(locate, problem.path) }] };
}

function safeLocate(locate: (path: (string | number)[]) => number | undefined, path: (string | number)[]): number | undefined {
  try {
    return locate(path);
  } catch {
    return undefined;
  }
}

export function parseFlowText(text: string, fileName?: string): ParseResult {
  if (text.length > LIMITS.textBytes) return failure(`the document is ${(text.length / 1024 / 1024).toFixed(1)} MB: at most ${LIMITS.textBytes / 1024 / 1024} MB`);
  const format = detectFormat(text, fileName);
  if (format === 'json') {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      const raw = (err as Error).message;
      const pos = /at position (\d+)/.exec(raw);
      const message = jsonSyntaxMessage(raw);
      let line = pos ? lineAt(text, Number(pos[1])) : undefined;
      if (line === undefined) {
        // JSON is YAML: the YAML parser finds the line of most JSON syntax errors
        try {
          line = parseYamlDocument(text).errors[0]?.linePos?.[0]?.line;
        } catch {
          line = undefined;
        }
      }
      return failure(`JSON syntax error: ${message}`, line);
    }
    const noLines = () => undefined;
    const shape = shapeFailure(value, noLines);
    if (shape) return shape;
    let locate: ParsedText['locate'] = noLines;
    try {
      const counter = new LineCounter();
      const doc = parseYamlDocument(text, { lineCounter: counter, uniqueKeys: true });
      // JSON.parse keeps the last of two equal keys without a word: say it, as for YAML
      const dup = doc.errors.find((e) => e.code === 'DUPLICATE_KEY');
      if (dup) return failure(`JSON syntax error: ${dup.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`, dup.linePos?.[0]?.line);
      locate = locator(doc, counter);
    } catch {
      // lines are a convenience: the value is already checked
    }
    return { ok: true, parsed: { value, format, locate } };
  }
  const counter = new LineCounter();
  let doc: Document;
  try {
    doc = parseYamlDocument(text, { lineCounter: counter, uniqueKeys: true });
  } catch (err) {
    return failure(yamlFailure(err, 'YAML syntax error'));
  }
  const tagProblem = doc.warnings.find((w) => w.code === 'TAG_RESOLVE_FAILED');
  const first = doc.errors[0] ?? tagProblem;
  if (first) {
    // the first error is the one to fix: YAML parsers cascade after it
    const message = first.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    const line = first.linePos?.[0]?.line;
    if (first === tagProblem) return failure(`YAML: ${message} (tags other than the standard ones are not supported)`, line);
    if (/call stack/i.test(message)) return failure(yamlFailure(new RangeError(message), 'YAML syntax error'), line);
    return failure(`YAML syntax error: ${message}`, line);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: LIMITS.aliases });
  } catch (err) {
    return failure(yamlFailure(err, 'YAML'));
  }
  const locate = locator(doc, counter);
  return shapeFailure(value, locate) ?? { ok: true, parsed: { value, format, locate } };
}
