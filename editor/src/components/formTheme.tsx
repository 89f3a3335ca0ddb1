/**
 * The inspector's rjsf theme: compact field rows in the editor's own look, text buttons instead of
 * glyph fonts, editable lists; the schema's UI hints applied (fields shown by mode, ordered, grouped);
 * problems in words once a field was touched; widgets of ours (code, connection, field name, scalar).
 */
import { ADDITIONAL_PROPERTY_FLAG, canExpand, getTemplate, getUiOptions } from '@rjsf/utils';
import type {
  RJSFSchema,
  ArrayFieldItemTemplateProps,
  ArrayFieldTemplateProps,
  FieldTemplateProps,
  IconButtonProps,
  ObjectFieldTemplateProps,
  FieldProps,
  MultiSchemaFieldTemplateProps,
  RegistryFieldsType,
  RegistryWidgetsType,
  TemplatesType,
  WidgetProps,
  WrapIfAdditionalTemplateProps,
} from '@rjsf/utils';
import { useState } from 'react';
import type { Connection } from '../api.js';
import { ADVANCED } from '../../../runtime/flow/ui-hints.js';
import { hintOf, inWords, isOneOrList, isScalarUnion, rawPath, shows } from '../formSchema.js';
import type { DataField } from '../selectors.js';
import { CodeField, type CodeError } from './CodeField.js';

export interface FormContext {
  nodeId: string;
  codeError?: CodeError;
  connections: Connection[] | null;
  family: string;
  onManageConnections(): void;
  /** the whole config, for hints that look at another object (`/window/type`) */
  config: Record<string, unknown>;
  /** ids of the fields changed or left: the only ones that show problems until `revealAll` */
  touched: ReadonlySet<string>;
  revealAll: boolean;
  /** the fields of the records that reached the node in the last test run */
  dataFields: DataField[];
}

/** whether a field's problems show: it (or a field inside it) was touched, or a save asked for all */
function reveals(ctx: FormContext | undefined, id: string): boolean {
  if (!ctx || ctx.revealAll) return true;
  for (const t of ctx.touched) if (t === id || t.startsWith(`${id}_`)) return true;
  return false;
}

/** the problems of a field, in words, each with the path validation gave as its tooltip */
function Problems({ errors, label, ctx, path }: { errors: string[]; label: string; ctx?: FormContext; path: readonly (string | number)[] }) {
  const raw = ctx ? rawPath(ctx.nodeId, path) : '';
  return (
    <div className="field-error" role="alert" title={raw}>
      {errors.map((e) => inWords(label, e)).join('; ')}
    </div>
  );
}

function FieldTemplate(p: FieldTemplateProps) {
  const { id, label, children, rawErrors, hidden, required, displayLabel, schema, classNames, registry, uiSchema, fieldPathId } = p;
  const options = getUiOptions(uiSchema);
  const Wrap = getTemplate('WrapIfAdditionalTemplate', registry, options);
  if (hidden) return <div hidden>{children}</div>;
  const ctx = registry.formContext as FormContext | undefined;
  const isBool = schema.type === 'boolean';
  const isContainer = schema.type === 'object' || schema.type === 'array';
  const ownsLabel = isScalarUnion(schema) || options.field === 'json';
  const help = typeof options.help === 'string' && options.help ? options.help : undefined;
  const description = typeof schema.description === 'string' ? schema.description : undefined;
  // a list's or an object's own problems are shown by its template; these are a plain field's
  const errors = !isContainer && rawErrors?.length && reveals(ctx, id) ? rawErrors : [];
  return (
    <Wrap {...p}>
      <div className={`field${errors.length ? ' has-error' : ''}${classNames ? ` ${classNames}` : ''}`}>
        {displayLabel && !isBool && !isContainer && (
          <label htmlFor={id} className="field-label" title={description}>
            {label}
            {required && <span className="req" title="required">*</span>}
          </label>
        )}
        {children}
        {(displayLabel || ownsLabel) && help && !isBool && !isContainer && <div className="field-help">{help}</div>}
        {errors.length > 0 && <Problems errors={errors} label={label} ctx={ctx} path={fieldPathId.path} />}
      </div>
    </Wrap>
  );
}

function WrapIfAdditionalTemplate(p: WrapIfAdditionalTemplateProps) {
  const { children, schema, label, onKeyRenameBlur, onRemoveProperty, disabled, readonly, id, registry, uiSchema } = p;
  if (!(ADDITIONAL_PROPERTY_FLAG in schema)) return <>{children}</>;
  const { RemoveButton } = registry.templates.ButtonTemplates;
  return (
    <div className="kv-row">
      <input className="kv-key" type="text" id={`${id}-key`} aria-label="key" defaultValue={label} onBlur={onKeyRenameBlur} disabled={disabled || readonly} />
      <span className="kv-arrow">→</span>
      <div className="kv-value">{children}</div>
      <RemoveButton onClick={onRemoveProperty} disabled={disabled || readonly} registry={registry} uiSchema={uiSchema} />
    </div>
  );
}

/**
 * An object's fields, under its name when it is a named property (window, tls); not under the generated
 * titles of list items ("measures-1") or of oneOf choices, which the choice's own select already names.
 */
function ObjectFieldTemplate(p: ObjectFieldTemplateProps) {
  const { properties, title, fieldPathId, schema, formData, uiSchema, onAddProperty, disabled, readonly, registry, required } = p;
  const last = fieldPathId.path.at(-1);
  // a named property (window, tls), not a list item nor a oneOf choice (whose select names it already)
  const named = typeof last === 'string' && (schema.title === undefined || schema.title === last);
  const { AddButton } = registry.templates.ButtonTemplates;
  if ((schema.oneOf || schema.anyOf) && !schema.properties && properties.length === 0) return null;
  const ctx = registry.formContext as FormContext | undefined;
  const props = (schema.properties ?? {}) as Record<string, RJSFSchema>;
  // the hints: which fields show for the current values, in which order, in which group
  const visible = properties
    .map((prop, index) => ({ prop, index, hint: hintOf(props[prop.name]) }))
    .filter(({ prop }) => shows(props[prop.name], formData, props, ctx?.config ?? formData, registry.rootSchema))
    .sort((a, b) => (a.hint?.order ?? 1e6 + a.index) - (b.hint?.order ?? 1e6 + b.index));
  const groups: { name: string; items: typeof visible }[] = [];
  for (const v of visible) {
    const name = v.hint?.group ?? '';
    const g = groups.find((x) => x.name === name) ?? groups[groups.push({ name, items: [] }) - 1];
    g.items.push(v);
  }
  const help = getUiOptions(uiSchema).help;
  return (
    <fieldset className={named ? 'object-field named' : 'object-field'} id={fieldPathId.$id}>
      {named && (
        <legend className="field-label" title={typeof schema.description === 'string' ? schema.description : undefined}>
          {title}
          {required && <span className="req">*</span>}
        </legend>
      )}
      {named && typeof help === 'string' && help && <div className="field-help object-help">{help}</div>}
      {groups.map((g) =>
        g.name === '' ? (
          g.items.map(({ prop }) => prop.content)
        ) : (
          <details key={g.name} className="field-group" open={g.name !== ADVANCED} data-group={g.name}>
            <summary className="field-group-title">{g.name === ADVANCED ? 'More settings' : g.name}</summary>
            {g.items.map(({ prop }) => prop.content)}
          </details>
        ),
      )}
      {canExpand(schema, uiSchema, formData) && <AddButton onClick={onAddProperty} disabled={disabled || readonly} registry={registry} uiSchema={uiSchema} />}
    </fieldset>
  );
}

function ArrayFieldTemplate(p: ArrayFieldTemplateProps) {
  const { items, canAdd, onAddClick, title, disabled, readonly, registry, uiSchema, fieldPathId, rawErrors } = p;
  const { AddButton } = registry.templates.ButtonTemplates;
  const ctx = registry.formContext as FormContext | undefined;
  const help = getUiOptions(uiSchema).help;
  const label = (getUiOptions(uiSchema).title as string | undefined) ?? title;
  return (
    <fieldset className="array-field" id={fieldPathId.$id}>
      <legend className="field-label">{label}</legend>
      {items.length === 0 && <div className="field-empty">empty</div>}
      <div className="array-items">{items}</div>
      {canAdd && <AddButton onClick={onAddClick} disabled={disabled || readonly} registry={registry} uiSchema={uiSchema} />}
      {typeof help === 'string' && help && <div className="field-help">{help}</div>}
      {rawErrors && rawErrors.length > 0 && reveals(ctx, fieldPathId.$id) && <Problems errors={rawErrors} label={label} ctx={ctx} path={fieldPathId.path} />}
    </fieldset>
  );
}

function ArrayFieldItemTemplate(p: ArrayFieldItemTemplateProps) {
  const { children, buttonsProps, hasToolbar, registry, uiSchema } = p;
  const Buttons = getTemplate('ArrayFieldItemButtonsTemplate', registry, getUiOptions(uiSchema));
  return (
    <div className="array-item">
      <div className="array-item-body">{children}</div>
      {hasToolbar && (
        <div className="array-item-tools">
          <Buttons {...buttonsProps} />
        </div>
      )}
    </div>
  );
}

const iconButton = (glyph: string, title: string, extra = '') =>
  function IconButton({ onClick, disabled, className }: IconButtonProps) {
    return (
      <button type="button" className={`icon-btn ${extra} ${className ?? ''}`} title={title} aria-label={title} onClick={onClick} disabled={disabled}>
        {glyph}
      </button>
    );
  };

function AddButton({ onClick, disabled }: IconButtonProps) {
  return (
    <button type="button" className="btn small ghost add-btn" onClick={onClick} disabled={disabled}>
      + Add
    </button>
  );
}

/** a choice between shapes (lookup or nest; a field or an expression): its select, labelled, then the chosen shape */
function MultiSchemaFieldTemplate({ selector, optionSchemaField, uiSchema }: MultiSchemaFieldTemplateProps) {
  const label = getUiOptions(uiSchema).choiceLabel;
  return (
    <div className="choice-field">
      {selector && (
        <label className="field choice-select">
          <span className="field-label">{typeof label === 'string' ? label : 'Kind'}</span>
          {selector}
        </label>
      )}
      {optionSchemaField}
    </div>
  );
}

export const templates: Partial<TemplatesType> = {
  FieldTemplate,
  MultiSchemaFieldTemplate,
  ObjectFieldTemplate,
  WrapIfAdditionalTemplate,
  ArrayFieldTemplate,
  ArrayFieldItemTemplate,
  ButtonTemplates: {
    AddButton,
    RemoveButton: iconButton('×', 'Remove', 'danger'),
    MoveUpButton: iconButton('↑', 'Move up'),
    MoveDownButton: iconButton('↓', 'Move down'),
    CopyButton: iconButton('⧉', 'Copy'),
    ClearButton: iconButton('×', 'Clear'),
    SubmitButton: () => null,
  },
};

function CodeWidget(p: WidgetProps) {
  const ctx = p.registry.formContext as FormContext;
  return (
    <CodeField
      id={p.id}
      value={typeof p.value === 'string' ? p.value : ''}
      onChange={(v) => p.onChange(v === '' ? undefined : v)}
      placeholder={p.placeholder || undefined}
      error={ctx?.codeError}
      invalid={p.rawErrors}
      readOnly={p.disabled || p.readonly}
      fields={ctx?.dataFields}
    />
  );
}

function ConnectionWidget(p: WidgetProps) {
  const ctx = p.registry.formContext as FormContext;
  const all = ctx.connections ?? [];
  // connections of this node's family first (postgres.source → postgres), then the rest
  const mine = all.filter((c) => c.type === ctx.family || c.type.startsWith(`${ctx.family}`));
  const others = all.filter((c) => !mine.includes(c));
  const value = typeof p.value === 'string' ? p.value : '';
  return (
    <div className="connection-picker">
      <select id={p.id} value={value} onChange={(e) => p.onChange(e.target.value || undefined)} disabled={p.disabled || p.readonly}>
        <option value="">{ctx.connections === null ? 'loading connections…' : all.length ? 'choose a connection…' : 'no connections yet'}</option>
        {value && !all.some((c) => c.name === value) && <option value={value}>{value} (not found)</option>}
        {[...mine, ...others].map((c) => (
          <option key={c.id} value={c.name}>
            {c.name} · {c.type}
          </option>
        ))}
      </select>
      <button type="button" className="link small" onClick={ctx.onManageConnections}>
        Manage connections
      </button>
    </div>
  );
}

/** the name of a field of the incoming records: typed, or picked from the fields the last test run saw */
function FieldNameWidget(p: WidgetProps) {
  const ctx = p.registry.formContext as FormContext;
  const fields = ctx?.dataFields ?? [];
  const listId = `${p.id}__fields`;
  return (
    <>
      <input
        id={p.id}
        type="text"
        className="mono"
        list={fields.length ? listId : undefined}
        value={typeof p.value === 'string' ? p.value : ''}
        placeholder={p.placeholder || (fields.length ? 'a field: pick or type' : 'a field name')}
        autoComplete="off"
        disabled={p.disabled || p.readonly}
        aria-invalid={p.rawErrors?.length ? true : undefined}
        onChange={(e) => p.onChange(e.target.value === '' ? undefined : e.target.value)}
        onBlur={() => p.onBlur(p.id, p.value)}
        data-testid="field-name-input"
      />
      {fields.length > 0 && (
        <datalist id={listId}>
          {fields.map((f) => (
            <option key={f.name} value={f.name}>
              {f.type}
            </option>
          ))}
        </datalist>
      )}
    </>
  );
}

export const widgets: RegistryWidgetsType = { code: CodeWidget, connection: ConnectionWidget, field: FieldNameWidget };

/** any JSON value, typed as JSON text: kept as text until it parses */
function JsonField(p: FieldProps) {
  const [text, setText] = useState(() => (p.formData === undefined ? '' : JSON.stringify(p.formData)));
  const [bad, setBad] = useState(false);
  const id = p.fieldPathId.$id;
  return (
    <div className={`field${bad ? ' has-error' : ''}`}>
      <label className="field-label" htmlFor={id}>
        {(getUiOptions(p.uiSchema).title as string | undefined) ?? p.name}
      </label>
      <input
        id={id}
        className="mono"
        value={text}
        placeholder="any JSON value: 0, &quot;text&quot;, [], {}"
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value.trim() === '') {
            setBad(false);
            p.onChange(undefined, p.fieldPathId.path);
            return;
          }
          try {
            const v: unknown = JSON.parse(e.target.value);
            setBad(false);
            p.onChange(v, p.fieldPathId.path);
          } catch {
            setBad(true);
          }
        }}
      />
      {bad && <div className="field-error">not valid JSON yet</div>}
    </div>
  );
}

/**
 * A union of plain values (`30000 | "30s"`): one text box, no type picker. What is typed becomes the
 * first choice it fits: a number where numbers are allowed, true/false where booleans are, else text;
 * for one-or-a-list (`"a" | ["a", "b"]`), comma-separated text becomes the list.
 */
function ScalarField(p: FieldProps) {
  const choices = (p.schema.anyOf ?? p.schema.oneOf) as RJSFSchema[];
  const options = choices.map((o) => o.type);
  // named values among the choices (earliest, latest) are offered as suggestions
  const named = choices.flatMap((o) => (Array.isArray(o.enum) ? o.enum.map(String) : []));
  const id = p.fieldPathId.$id;
  const label = (getUiOptions(p.uiSchema).title as string | undefined) ?? p.name;
  const list = isOneOrList(p.schema);
  const toText = (v: unknown) => (v === undefined || v === null ? '' : Array.isArray(v) ? v.join(', ') : String(v));
  const [text, setText] = useState(() => toText(p.formData));
  // a value changed from outside (undo, another version): the text follows unless it already says so
  const [seen, setSeen] = useState<unknown>(p.formData);
  if (JSON.stringify(seen) !== JSON.stringify(p.formData)) {
    setSeen(p.formData);
    if (JSON.stringify(parse(text)) !== JSON.stringify(p.formData)) setText(toText(p.formData));
  }
  function parse(t: string): unknown {
    const v = t.trim();
    if (v === '') return undefined;
    if (list) {
      const items = v.split(/\s*,\s*/).filter(Boolean);
      return items.length === 1 ? items[0] : items;
    }
    if ((options.includes('integer') && /^-?\d+$/.test(v)) || (options.includes('number') && /^-?\d+(\.\d+)?$/.test(v))) return Number(v);
    if (options.includes('boolean') && (v === 'true' || v === 'false')) return v === 'true';
    return t;
  }
  return (
    <>
      <label className="field-label" htmlFor={id} title={typeof p.schema.description === 'string' ? p.schema.description : undefined}>
        {label}
        {p.required && <span className="req" title="required">*</span>}
      </label>
      <input
        id={id}
        type="text"
        value={text}
        placeholder={(getUiOptions(p.uiSchema).placeholder as string | undefined) || (list ? 'one, or several separated by commas' : '')}
        disabled={p.disabled || p.readonly}
        onChange={(e) => {
          setText(e.target.value);
          p.onChange(parse(e.target.value), p.fieldPathId.path, undefined, id);
        }}
        onBlur={() => p.onBlur(id, p.formData)}
        list={named.length ? `${id}__choices` : undefined}
      />
      {named.length > 0 && (
        <datalist id={`${id}__choices`}>
          {named.map((v) => (
            <option key={v} value={v} />
          ))}
        </datalist>
      )}
    </>
  );
}

export const fields: RegistryFieldsType = { json: JsonField, scalar: ScalarField };
