/**
 * Field documentation from the one schema source: the type, default,
 * allowed values and Istio's meaning, as Markdown for hover and completion.
 */
import type { Schema } from '../../simulator/policy';

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

/** A map of label values (`labels`, `matchLabels`, `sourceLabels`). */
export function isLabelMap(s: Schema | undefined): boolean {
  return !!s && (s['x-ref'] === 'labelKey' || s.title === 'labels');
}
