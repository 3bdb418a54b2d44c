/**
 * Schema validation of one document: ajv checks the plain data against the
 * kind's schema, and each ajv error is turned into a positioned diagnostic
 * with a message that says how to fix it.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { diagnostic, type Diagnostic, type DiagnosticCode } from './diagnostics';
import { durationProblem, parseDuration } from './duration';
import type { Kind } from './model';
import { re2Problem } from './re2';
import { SCHEMAS, type Schema } from './schema';
import { locate, rangeOf, type Path, type PolicyDocument } from './source';
import { closest } from './suggest';

let ajv: Ajv | undefined;
const validators = new Map<Kind, ValidateFunction>();

/** The validator of a kind, compiled the first time a document of that kind is seen: a start pays only for the kinds it has. */
function validatorOf(kind: Kind): ValidateFunction {
  let validate = validators.get(kind);
  if (!validate) {
    ajv ??= createAjv();
    validators.set(kind, (validate = ajv.compile(SCHEMAS[kind])));
  }
  return validate;
}

function createAjv(): Ajv {
  // Code optimisation halves the compile time we pay at every start and costs little per document.
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: false, allowUnionTypes: true, code: { optimize: false } });
  ajv.addFormat('duration', { type: 'string', validate: (s: string) => parseDuration(s) !== undefined });
  ajv.addFormat('re2', { type: 'string', validate: (s: string) => re2Problem(s) === undefined });
  ajv.addKeyword({
    keyword: 'x-exclusive',
    type: 'object',
    schemaType: 'array',
    errors: true,
    validate: function exclusive(groups: string[][], data: Record<string, unknown>) {
      const errors: Partial<ErrorObject>[] = [];
      for (const group of groups) {
        const set = group.filter((k) => data[k] !== undefined);
        if (set.length > 1) errors.push({ keyword: 'x-exclusive', message: 'exclusive', params: { fields: set } });
      }
      (exclusive as unknown as { errors: Partial<ErrorObject>[] }).errors = errors;
      return errors.length === 0;
    },
  });
  for (const k of ['x-notSimulated', 'x-ref', 'x-enumDescriptions', 'x-elsewhere']) ajv.addKeyword({ keyword: k });
  return ajv;
}

export function validateSchema(doc: PolicyDocument): Diagnostic[] {
  const validate = validatorOf(doc.kind);
  const out: Diagnostic[] = [];
  if (!validate(doc.value)) {
    for (const err of validate.errors ?? []) {
      const d = toDiagnostic(doc, err);
      if (d) out.push(d);
    }
  }
  walkNotSimulated(doc, SCHEMAS[doc.kind], doc.value, [], out);
  return dedupe(out);
}

function toDiagnostic(doc: PolicyDocument, err: ErrorObject): Diagnostic | undefined {
  const path = parsePath(err.instancePath);
  const field = fieldName(path);
  const parent = (err.parentSchema ?? {}) as Schema;
  const data = err.data as unknown;
  const at = (code: DiagnosticCode, message: string, p: Path = path, part: 'key' | 'value' = 'value', data?: Record<string, unknown>) =>
    diagnostic(code, doc.file, rangeOf(doc, p, part), message, data ? { data } : undefined);

  switch (err.keyword) {
    case 'additionalProperties': {
      const prop = String(err.params.additionalProperty);
      const known = Object.keys(parent.properties ?? {});
      const guess = closest(prop, known);
      const where = parent.title ?? (field || 'this object');
      const elsewhere = parent['x-elsewhere']?.[prop];
      const fix = elsewhere ? `write it at ${elsewhere}` : guess ? `did you mean "${guess}"?` : `remove it; ${where} has ${list(known)}`;
      return at('unknown-field', `unknown field "${prop}" in ${where}: ${fix}`, [...path, prop], 'key',
        { field: prop, ...(guess ? { suggestion: guess } : {}) });
    }
    case 'required': {
      const missing = String(err.params.missingProperty);
      const where = parent.title ?? (field || 'the document');
      return at('missing-field', `${where} is missing the required field "${missing}"`, path, 'key', { field: missing });
    }
    case 'type': {
      const expected = String(err.params.type);
      // YAML reads 1.20 as the number 1.2: quote the value as written.
      const written = () => { const node = locate(doc.yaml, path).node as { source?: string } | undefined; return node?.source ?? String(data); };
      const quoted = parent.enum && typeof data === 'number' ? ` (quote it: "${written()}"; one of ${list(parent.enum.map(String), true)})` : '';
      const hint = parent.format === 'duration' ? ' (a duration such as "1.5s")' : quoted;
      return at('wrong-type', `"${field}" must be ${article(expected)}${hint}, not ${describe(data)}`, path);
    }
    case 'enum': {
      const allowed = (err.schema as (string | number)[]).map(String);
      // A number for a string enum is told once, as the wrong type (quote it).
      if (typeof data === 'number' && parent.type === 'string') return undefined;
      // A version is not a typo: "1.31" is not "1.21" misspelled, so the known ones are listed instead.
      const guess = typeof data === 'string' && !/^\d+(\.\d+)*$/.test(data) ? closest(data, allowed, true) : undefined;
      const every = `use one of ${list(allowed, !!parent['x-enumDescriptions'])}`;
      const fix = guess ? `did you mean "${guess}"?${parent['x-enumListAll'] ? ` Or ${every}` : ''}` : every;
      return at('bad-enum', `"${String(data)}" is not a valid ${field}: ${fix}`, path, 'value',
        guess ? { suggestion: guess } : undefined);
    }
    case 'format': {
      if (err.params.format === 'duration') {
        return at('bad-duration', `invalid duration "${String(data)}" for ${field}: ${durationProblem(String(data))}`, path);
      }
      return at('bad-regex', `${field} is not a valid RE2 regular expression: ${re2Problem(String(data))} (IST0122)`, path);
    }
    case 'minimum':
    case 'maximum': {
      const range = `${parent.minimum ?? '-∞'} and ${parent.maximum ?? '∞'}`;
      return at('bad-value', `${field} must be between ${range}, not ${String(data)}`, path);
    }
    case 'pattern':
      return at('bad-value', `"${String(data)}" is not a valid ${field}: ${patternHint(field)}`, path);
    case 'maxLength':
      return at('bad-value', `${field} is too long (at most ${parent.maxLength} characters)`, path);
    case 'minItems':
      return at('bad-value', `${field} needs at least ${parent.minItems} item${parent.minItems === 1 ? '' : 's'}`, path);
    case 'x-exclusive': {
      const fields = err.params.fields as string[];
      return at('one-of', `${list(fields)} cannot be set together in ${parent.title ?? field}: keep only one`,
        [...path, fields[1]], 'key');
    }
    case 'if':
    case 'anyOf':
    case 'oneOf':
      return undefined; // their sub-errors carry the detail
    default:
      return at('bad-value', `${field || 'value'} ${err.message ?? 'is invalid'}`, path);
  }
}

function walkNotSimulated(doc: PolicyDocument, schema: Schema | undefined, value: unknown, path: (string | number)[], out: Diagnostic[]): void {
  if (!schema || value === undefined || value === null || !reachesNotSimulated(schema)) return;
  if (schema['x-notSimulated'] && path.length > 0) {
    out.push(diagnostic('not-simulated', doc.file, rangeOf(doc, [...path], 'key'),
      `"${fieldName(path)}" is accepted but not simulated locally (${schema['x-notSimulated']}); it will work on a cluster`));
    return;
  }
  // One path, extended and shortened in place: most documents have no such field, and this walk runs on every one.
  if (Array.isArray(value)) {
    if (!schema.items) return;
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      walkNotSimulated(doc, schema.items, value[i], path, out);
      path.pop();
    }
  } else if (typeof value === 'object') {
    for (const k of Object.keys(value as Record<string, unknown>)) {
      const child = schema.properties?.[k] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      path.push(k);
      walkNotSimulated(doc, child, (value as Record<string, unknown>)[k], path, out);
      path.pop();
    }
  }
}

// Whether a schema has an x-notSimulated field anywhere below it, along the links walkNotSimulated follows.
const notSimulatedBelow = new WeakMap<Schema, boolean>();

function reachesNotSimulated(schema: Schema): boolean {
  let found = notSimulatedBelow.get(schema);
  if (found === undefined) {
    found = !!schema['x-notSimulated']
      || Object.values(schema.properties ?? {}).some(reachesNotSimulated)
      || (schema.items !== undefined && reachesNotSimulated(schema.items))
      || (typeof schema.additionalProperties === 'object' && reachesNotSimulated(schema.additionalProperties));
    notSimulatedBelow.set(schema, found);
  }
  return found;
}

function parsePath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer.slice(1).split('/').map((s) => {
    const seg = s.replace(/~1/g, '/').replace(/~0/g, '~');
    return /^\d+$/.test(seg) ? Number(seg) : seg;
  });
}

/** A readable name for the field at a path: `http[0].timeout` -> "timeout", `hosts[1]` -> "hosts[1]". */
function fieldName(path: Path): string {
  for (let i = path.length - 1; i >= 0; i--) {
    if (typeof path[i] === 'string') {
      const idx = path.slice(i + 1).map((n) => `[${n}]`).join('');
      const name = `${path[i]}${idx}`;
      // `value`, `number`, `exact`... say little alone: name the field they belong to.
      return GENERIC.has(String(path[i])) && i > 0 ? `${fieldName(path.slice(0, i))}.${name}` : name;
    }
  }
  return '';
}

const GENERIC = new Set(['value', 'number', 'exact', 'prefix', 'regex', 'mode', 'name']);

function patternHint(field: string): string {
  if (field === 'name' || field === 'namespace') return 'use lowercase letters, digits and "-", starting and ending with a letter or digit';
  if (field === 'retryOn') return 'use a comma-separated list such as "5xx,connect-failure,reset"';
  if (/^hosts\[\d+\]$/.test(field)) return 'a Sidecar egress host is namespace/dnsName: "./*", "istio-system/*", "*/api.example.com"';
  return 'see the field documentation';
}

function article(type: string): string {
  if (type === 'object') return 'a mapping';
  if (type === 'array') return 'a list';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string "${v}"`;
  return `${typeof v} ${String(v)}`;
}

function list(items: readonly string[], whole = false): string {
  const quoted = items.map((s) => `"${s}"`);
  return quoted.length > 8 && !whole ? `${quoted.slice(0, 8).join(', ')}, ...` : quoted.join(', ');
}

function dedupe(diags: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diags.filter((d) => {
    const key = `${d.code}:${d.range.start}:${d.range.end}:${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
