/**
 * Field documentation from the one schema source: the type, default,
 * allowed values and Istio's meaning, as Markdown for hover and completion.
 */
import { schemaAt, type Kind, type Schema } from '../../simulator/policy';
import type { Segment } from './lines';

export function typeLabel(s: Schema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (s.format === 'duration') return 'duration';
  if (s.format === 're2') return 'RE2 regex';
  if (s.type === 'array') return `${s.items ? typeLabel(s.items) : 'value'}[]`;
  if (s.type === 'object' && !s.properties && typeof s.additionalProperties === 'object') {
    return `map<string, ${typeLabel(s.additionalProperties)}>`;
  }
  if (s.type === 'object') return s.title ?? 'object';
  return Array.isArray(s.type) ? s.type.join(' | ') : s.type ?? 'any';
}

/** Markdown for a field: `name: type`, the meaning, then default / range / notes. */
export function fieldMarkdown(name: string, s: Schema, parent?: Schema): string {
  const lines = [`**${name}**: \`${typeLabel(s)}\`${parent?.required?.includes(name) ? ' (required)' : ''}`, ''];
  if (s.description) lines.push(s.description, '');
  if (s.default !== undefined) lines.push(`Default: \`${JSON.stringify(s.default)}\``);
  if (s.minimum !== undefined || s.maximum !== undefined) lines.push(`Range: ${s.minimum ?? '-∞'} to ${s.maximum ?? '∞'}`);
  if (s.enum) lines.push(`Allowed: ${s.enum.map((v) => `\`${v}\``).join(', ')}`);
  if (s.required?.length) lines.push(`Required fields: ${s.required.map((r) => `\`${r}\``).join(', ')}`);
  if (s['x-notSimulated']) lines.push('', `_Accepted but not simulated locally: ${s['x-notSimulated']}._`);
  return lines.join('\n').trim();
}

/** The schema of the value at `path` and of its parent, for a kind. */
export function schemaWithParent(kind: Kind, path: readonly Segment[]): { schema?: Schema; parent?: Schema } {
  return { schema: schemaAt(kind, path), parent: path.length ? schemaAt(kind, path.slice(0, -1)) : undefined };
}

/** A map of label values (`labels`, `matchLabels`, `sourceLabels`). */
export function isLabelMap(s: Schema | undefined): boolean {
  return !!s && (s['x-ref'] === 'labelKey' || s.title === 'labels');
}
