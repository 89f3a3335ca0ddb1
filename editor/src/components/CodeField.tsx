/**
 * A JavaScript field: CodeMirror 6 with highlighting, bracket matching and indentation, and the last
 * test run's error for this node shown inline under the code (with the record that raised it).
 */
import { useEffect, useRef, useState } from 'react';
import { Compartment, EditorState, Transaction, type Extension } from '@codemirror/state';
import { EditorView, drawSelection, highlightActiveLine, keymap, lineNumbers, placeholder as placeholderExt } from '@codemirror/view';
import { bracketMatching, defaultHighlightStyle, getIndentation, indentOnInput, indentUnit, syntaxHighlighting } from '@codemirror/language';
import { autocompletion, closeBrackets, closeBracketsKeymap, type CompletionContext, type CompletionResult } from '@codemirror/autocomplete';
import { javascript } from '@codemirror/lang-javascript';
import type { SluiceRecord } from '../api.js';

export interface CodeError {
  message: string;
  record?: SluiceRecord;
}

interface Props {
  id?: string;
  value: string;
  onChange(value: string): void;
  placeholder?: string;
  error?: CodeError;
  invalid?: string[];
  /** shown, never changed (a viewer) */
  readOnly?: boolean;
  /** the fields of the records reaching the node (last test run): offered after `value.` */
  fields?: { name: string; type: string }[];
}

/** `value.` (or `record.value.`) completes with the fields the last test run saw reach the node */
export function valueFieldCompletions(fields: readonly { name: string; type: string }[]) {
  return (cx: CompletionContext): CompletionResult | null => {
    const m = cx.matchBefore(/\bvalue\??\.[\w$]*$/);
    if (!m || fields.length === 0) return null;
    const dot = m.text.indexOf('.') + 1;
    return {
      from: m.from + dot,
      options: fields.map((f) => ({ label: f.name, detail: f.type, type: 'property' })),
      validFor: /^[\w$]*$/,
    };
  };
}

/** a small undo history for the field (the canvas has its own) */
function fieldHistory(): { extension: Extension; undo(v: EditorView): boolean; redo(v: EditorView): boolean } {
  const done: string[] = [];
  const undone: string[] = [];
  let last = 0;
  const swap = (v: EditorView, from: string[], to: string[]) => {
    const text = from.pop();
    if (text === undefined) return true;
    to.push(v.state.doc.toString());
    v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: text }, annotations: Transaction.addToHistory.of(false) });
    return true;
  };
  return {
    extension: EditorView.updateListener.of((u) => {
      if (!u.docChanged || u.transactions.some((t) => t.annotation(Transaction.addToHistory) === false)) return;
      const now = Date.now();
      if (now - last > 600 || done.length === 0) done.push(u.startState.doc.toString());
      last = now;
      undone.length = 0;
    }),
    undo: (v) => swap(v, done, undone),
    redo: (v) => swap(v, undone, done),
  };
}

const newlineAndIndent = (v: EditorView) => {
  const { from, to } = v.state.selection.main;
  const indent = getIndentation(v.state, from) ?? 0;
  const insert = `\n${' '.repeat(Math.max(0, indent))}`;
  v.dispatch({ changes: { from, to, insert }, selection: { anchor: from + insert.length }, scrollIntoView: true, userEvent: 'input' });
  return true;
};

const theme = EditorView.theme({
  '&': { fontSize: '12px', border: '1px solid var(--line)', borderRadius: '6px', background: 'var(--surface)' },
  '&.cm-focused': { outline: 'none', borderColor: 'var(--accent)', boxShadow: '0 0 0 3px var(--accent-soft)' },
  '.cm-scroller': { fontFamily: 'var(--mono)', lineHeight: '1.55', maxHeight: '320px', minHeight: '72px' },
  '.cm-gutters': { background: 'var(--panel)', color: 'var(--faint)', border: 'none', borderRadius: '6px 0 0 6px' },
  '.cm-activeLine': { background: 'rgba(37, 99, 235, 0.04)' },
  '.cm-placeholder': { color: 'var(--faint)', fontStyle: 'italic' },
});

export function CodeField({ id, value, onChange, placeholder, error, invalid, readOnly, fields }: Props) {
  const host = useRef<HTMLDivElement>(null);
  const completions = useRef(new Compartment());
  const view = useRef<EditorView | null>(null);
  const onChangeRef = useRef(onChange);
  onChangeRef.current = onChange;
  const [showRecord, setShowRecord] = useState(false);

  useEffect(() => {
    const h = fieldHistory();
    const v = new EditorView({
      parent: host.current!,
      state: EditorState.create({
        doc: value,
        extensions: [
          lineNumbers(),
          highlightActiveLine(),
          drawSelection(),
          bracketMatching(),
          closeBrackets(),
          indentOnInput(),
          indentUnit.of('  '),
          syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
          javascript(),
          completions.current.of(autocompletion({ override: [valueFieldCompletions(fields ?? [])], activateOnTyping: true })),
          placeholderExt(placeholder ?? ''),
          EditorView.lineWrapping,
          ...(readOnly ? [EditorState.readOnly.of(true), EditorView.editable.of(false)] : []),
          h.extension,
          keymap.of([
            ...closeBracketsKeymap,
            { key: 'Enter', run: newlineAndIndent },
            { key: 'Tab', run: (ev) => (ev.dispatch(ev.state.replaceSelection('  ')), true) },
            { key: 'Mod-z', run: h.undo, preventDefault: true },
            { key: 'Mod-Shift-z', run: h.redo, preventDefault: true },
            { key: 'Mod-y', run: h.redo, preventDefault: true },
          ]),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) onChangeRef.current(u.state.doc.toString());
          }),
          EditorView.contentAttributes.of({ 'aria-label': 'JavaScript code', ...(id ? { id } : {}) }),
          theme,
        ],
      }),
    });
    view.current = v;
    return () => v.destroy();
    // the editor is made once; value changes from outside (undo on the canvas) are applied below
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // a new test run brings other fields: the completion source is swapped, the editor kept
  const fieldsKey = JSON.stringify(fields ?? []);
  useEffect(() => {
    view.current?.dispatch({ effects: completions.current.reconfigure(autocompletion({ override: [valueFieldCompletions(fields ?? [])], activateOnTyping: true })) });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [fieldsKey]);

  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) {
      v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value }, annotations: Transaction.addToHistory.of(false) });
    }
  }, [value]);

  return (
    <div className="code-field" data-testid="code-field">
      <div ref={host} className={invalid?.length ? 'code-host invalid' : 'code-host'} />
      {placeholder && !value && (
        <button type="button" className="link small" onClick={() => onChange(placeholder)}>
          Use the example
        </button>
      )}
      {error && (
        <div className="code-error" data-testid="code-error" role="alert">
          <div className="code-error-head">
            <span className="dot error" /> Last test run: <strong>{error.message}</strong>
          </div>
          {error.record && (
            <>
              <button type="button" className="link small" onClick={() => setShowRecord((s) => !s)}>
                {showRecord ? 'Hide' : 'Show'} the record that failed
              </button>
              {showRecord && <pre className="json small">{JSON.stringify(error.record.value ?? error.record, null, 2)}</pre>}
            </>
          )}
        </div>
      )}
    </div>
  );
}
