/**
 * The inspector's rjsf theme: compact field rows in the editor's own look, text buttons instead of
 * glyph fonts, editable lists, and two widgets of ours (code, connection).
 */
import { ADDITIONAL_PROPERTY_FLAG, canExpand, getTemplate, getUiOptions } from '@rjsf/utils';
import type {
  ArrayFieldItemTemplateProps,
  ArrayFieldTemplateProps,
  FieldTemplateProps,
  IconButtonProps,
  ObjectFieldTemplateProps,
  FieldProps,
  RegistryFieldsType,
  RegistryWidgetsType,
  TemplatesType,
  WidgetProps,
  WrapIfAdditionalTemplateProps,
} from '@rjsf/utils';
import { useState } from 'react';
import type { Connection } from '../api.js';
import { CodeField, type CodeError } from './CodeField.js';

export interface FormContext {
  nodeId: string;
  codeError?: CodeError;
  connections: Connection[] | null;
  family: string;
  onManageConnections(): void;
}

function FieldTemplate(p: FieldTemplateProps) {
  const { id, label, children, rawErrors, hidden, required, displayLabel, schema, classNames, registry, uiSchema } = p;
  const Wrap = getTemplate('WrapIfAdditionalTemplate', registry, getUiOptions(uiSchema));
  if (hidden) return <div hidden>{children}</div>;
  const isBool = schema.type === 'boolean';
  const isContainer = schema.type === 'object' || schema.type === 'array';
  const description = typeof schema.description === 'string' ? schema.description : undefined;
  return (
    <Wrap {...p}>
      <div className={`field${rawErrors?.length ? ' has-error' : ''}${classNames ? ` ${classNames}` : ''}`}>
        {displayLabel && !isBool && !isContainer && (
          <label htmlFor={id} className="field-label">
            {label}
            {required && <span className="req" title="required">*</span>}
          </label>
        )}
        {children}
        {displayLabel && description && !isBool && !isContainer && <div className="field-help">{description}</div>}
        {rawErrors && rawErrors.length > 0 && <div className="field-error">{rawErrors.join('; ')}</div>}
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
  const named = typeof last === 'string' && title === last;
  const { AddButton } = registry.templates.ButtonTemplates;
  if ((schema.oneOf || schema.anyOf) && !schema.properties && properties.length === 0) return null;
  return (
    <fieldset className={named ? 'object-field named' : 'object-field'} id={fieldPathId.$id}>
      {named && (
        <legend className="field-label">
          {title}
          {required && <span className="req">*</span>}
        </legend>
      )}
      {named && typeof schema.description === 'string' && <div className="field-help object-help">{schema.description}</div>}
      {properties.map((prop) => prop.content)}
      {canExpand(schema, uiSchema, formData) && <AddButton onClick={onAddProperty} disabled={disabled || readonly} registry={registry} uiSchema={uiSchema} />}
    </fieldset>
  );
}

function ArrayFieldTemplate(p: ArrayFieldTemplateProps) {
  const { items, canAdd, onAddClick, title, schema, disabled, readonly, registry, uiSchema, fieldPathId, rawErrors } = p;
  const { AddButton } = registry.templates.ButtonTemplates;
  return (
    <fieldset className="array-field" id={fieldPathId.$id}>
      <legend className="field-label">{title}</legend>
      {items.length === 0 && <div className="field-empty">empty</div>}
      <div className="array-items">{items}</div>
      {canAdd && <AddButton onClick={onAddClick} disabled={disabled || readonly} registry={registry} uiSchema={uiSchema} />}
      {typeof schema.description === 'string' && <div className="field-help">{schema.description}</div>}
      {rawErrors && rawErrors.length > 0 && <div className="field-error">{rawErrors.join('; ')}</div>}
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

export const templates: Partial<TemplatesType> = {
  FieldTemplate,
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

export const widgets: RegistryWidgetsType = { code: CodeWidget, connection: ConnectionWidget };

/** any JSON value, typed as JSON text: kept as text until it parses */
function JsonField(p: FieldProps) {
  const [text, setText] = useState(() => (p.formData === undefined ? '' : JSON.stringify(p.formData)));
  const [bad, setBad] = useState(false);
  const id = p.fieldPathId.$id;
  return (
    <div className={`field${bad ? ' has-error' : ''}`}>
      <label className="field-label" htmlFor={id}>
        {p.name}
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
      {typeof p.schema.description === 'string' && <div className="field-help">{p.schema.description}</div>}
      {bad && <div className="field-error">not valid JSON yet</div>}
    </div>
  );
}

export const fields: RegistryFieldsType = { json: JsonField };
