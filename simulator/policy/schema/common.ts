/**
 * Building blocks for the schemas. The schemas are JSON Schema (draft-07, for
 * ajv) with a few annotations of our own:
 *
 * - `description`: Istio's meaning of the field, shown on hover.
 * - `default`: Istio's default, shown on hover and used by completion.
 * - `format: 'duration' | 're2'`: checked by our ajv formats.
 * - `x-exclusive`: groups of fields of which at most one may be set (proto `oneof`).
 * - `x-notSimulated`: the field is accepted but has no local effect yet (a warning).
 * - `x-enumDescriptions`: what each enum value means, shown when completing
 *   and hovering that value (and an unknown value is answered with the list,
 *   never a "did you mean" guess: versions and modes are not typos).
 * - `x-elsewhere`: fields Istio has in this object that a devmesh file writes
 *   in another place, and where (the unknown-field message says so).
 * - `x-ref`: what a value refers to ('host', 'subset', 'gateway', 'principal',
 *   'namespace', 'label', 'servicePort', 'extensionProvider',
 *   'requestPrincipal', and for the Gateway API 'parentRef' — a Service or
 *   Gateway by the sibling `kind` — and 'backendRef', a Service), for
 *   completion and go-to-definition.
 *
 * One schema source feeds validation, completion and hover.
 */

export interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | ('string' | 'integer' | 'number' | 'boolean' | 'object' | 'array')[];
  title?: string;
  description?: string;
  default?: unknown;
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  required?: string[];
  items?: Schema;
  enum?: readonly (string | number)[];
  format?: 'duration' | 're2';
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  pattern?: string;
  examples?: unknown[];
  'x-exclusive'?: string[][];
  'x-notSimulated'?: string;
  'x-enumDescriptions'?: Record<string, string>;
  'x-elsewhere'?: Record<string, string>;
  /** A bad value's error lists every allowed one (a closed set people look up, like gRPC status names), not only a guess. */
  'x-enumListAll'?: boolean;
  'x-ref'?: 'host' | 'subset' | 'gateway' | 'principal' | 'namespace' | 'labelKey' | 'serviceAccount' | 'servicePort' | 'extensionProvider' | 'requestPrincipal' | 'parentRef' | 'backendRef';
}

type Props = Record<string, Schema>;

export function object(title: string, description: string, properties: Props, extra: Partial<Schema> = {}): Schema {
  return { type: 'object', title, description, properties, additionalProperties: false, ...extra };
}

export function string(description: string, extra: Partial<Schema> = {}): Schema {
  return { type: 'string', description, ...extra };
}

export function integer(description: string, extra: Partial<Schema> = {}): Schema {
  return { type: 'integer', description, ...extra };
}

export function number(description: string, extra: Partial<Schema> = {}): Schema {
  return { type: 'number', description, ...extra };
}

export function boolean(description: string, extra: Partial<Schema> = {}): Schema {
  return { type: 'boolean', description, ...extra };
}

export function array(description: string, items: Schema, extra: Partial<Schema> = {}): Schema {
  return { type: 'array', description, items, ...extra };
}

export function map(description: string, values: Schema, extra: Partial<Schema> = {}): Schema {
  return { type: 'object', description, additionalProperties: values, ...extra };
}

export function enumOf(description: string, values: readonly string[], extra: Partial<Schema> = {}): Schema {
  return { type: 'string', description, enum: values, ...extra };
}

export function duration(description: string, extra: Partial<Schema> = {}): Schema {
  return { type: 'string', format: 'duration', description: `${description}\n\nA duration such as \`1.5s\`, \`300ms\`, \`1m\` or \`1h30m\`.`, ...extra };
}

export function notSimulated<T extends Schema>(schema: T, why = 'devmesh does not simulate this field yet'): T {
  return { ...schema, 'x-notSimulated': why };
}

export const port = (description: string): Schema => integer(description, { minimum: 1, maximum: 65535 });

export const labels = (description: string): Schema =>
  map(description, { type: 'string' }, { title: 'labels' });

export const stringMatch = (what: string): Schema =>
  object('StringMatch', `How to match ${what}. Exactly one of \`exact\`, \`prefix\` or \`regex\`.`, {
    exact: string('Exact string match.'),
    prefix: string('Prefix-based match.'),
    regex: string('RE2 style regex-based match (https://github.com/google/re2/wiki/Syntax). The whole value must match.', { format: 're2' }),
  }, { 'x-exclusive': [['exact', 'prefix', 'regex']] });

export const percent = (description: string): Schema =>
  object('Percent', `${description}\n\nA percentage in the range 0.0-100.0, e.g. \`value: 0.1\`.`, {
    value: number('The percentage, from 0.0 to 100.0.', { minimum: 0, maximum: 100 }),
  });

export const portSelector: Schema = object('PortSelector', 'Specifies the number of a port to be used for matching or selection: a port of the service (what callers address), not its targetPort.', {
  number: { ...port('Valid port number: a service port.'), 'x-ref': 'servicePort' },
});

export const workloadSelector = (resource: string): Schema =>
  object('WorkloadSelector', `Criteria used to select the specific set of workloads on which this ${resource} applies. Omit it to apply to every workload of the namespace.`, {
    matchLabels: map('One or more labels that indicate a specific set of workloads on which the policy should be applied. The scope of label search is restricted to the namespace in which the resource is present.', { type: 'string' }, { 'x-ref': 'labelKey' }),
  });

export const metadata: Schema = object('ObjectMeta', 'Standard Kubernetes object metadata.', {
  name: string('Name of the resource, unique per kind and namespace. Lowercase letters, digits and `-`.', {
    pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', maxLength: 253,
  }),
  namespace: string('Namespace of the resource. Defaults to the Mesh namespace.', {
    pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63, 'x-ref': 'namespace',
  }),
  labels: labels('Kubernetes labels of the resource.'),
  annotations: map('Kubernetes annotations. devmesh reads `istio.io/dry-run`.', { type: 'string' }),
  uid: string('Set by Kubernetes; ignored.'),
  resourceVersion: string('Set by Kubernetes; ignored.'),
  generation: integer('Set by Kubernetes; ignored.'),
  creationTimestamp: string('Set by Kubernetes (RFC 3339, e.g. `2026-01-31T09:00:00Z`). When written, devmesh orders resources by it as Istio does: the oldest VirtualService of a host applies at the sidecars and comes first at a gateway; the oldest Gateway API route wins a tie. VirtualServices without one count as older than any with one, in the order they are written.', {
    pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$',
  }),
}, { required: ['name'] });

/** The envelope shared by every kind. */
export function resource(kind: string, apiVersions: readonly string[], description: string, spec: Schema): Schema {
  return object(kind, description, {
    apiVersion: enumOf('API group and version of the resource.', apiVersions),
    kind: enumOf('Kind of the resource.', [kind]),
    metadata,
    spec,
    status: { description: 'Written by the cluster; ignored.' } as Schema,
  }, { required: ['apiVersion', 'kind', 'metadata', 'spec'] });
}
