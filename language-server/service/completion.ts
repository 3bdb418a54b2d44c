/**
 * Completion: keys valid at the cursor (required first, with snippets for
 * their values), enum values, durations, and names the workspace knows —
 * hosts, subsets, labels, principals, gateways — plus whole-resource snippets
 * in an empty document. Everything comes from the one schema and the index.
 */
import {
  CompletionItemKind, InsertTextFormat, InsertTextMode, MarkupKind,
  type CompletionItem, type TextEdit,
} from 'vscode-languageserver';
import { API_VERSIONS, arr, KINDS, obj, schemaAt, str, type Kind, type Schema, type ServiceView, type SourceFile, type WorkspaceIndex } from '../../simulator/policy';
import { isRouteKind } from '../../simulator/policy/gateway-api/status';
import { cursorContext, type CursorContext } from './cursor';
import { fqdnIn, labelsText, principals, serviceByFqdn, serviceMarkdown, subsetsOf, subsetWorkloads } from './mesh-facts';
import { toLspRange } from './positions';
import { fieldMarkdown, isLabelMap, typeLabel } from './schema-docs';
import { resourceSnippets } from './snippets';

const DURATIONS = ['1s', '500ms', '5s', '10s', '30s', '1m'];

export function complete(index: WorkspaceIndex, source: SourceFile, offset: number): CompletionItem[] {
  const ctx = cursorContext(source.text, offset);
  if (!ctx) return [];
  const edit = (newText: string): TextEdit => ({ range: toLspRange(source, ctx.replace), newText });

  if (!ctx.kind) return unservedDocument(index, source, ctx, edit);
  if (ctx.position === 'key') return keyItems(index, ctx, edit);
  return valueItems(index, ctx, edit);
}

/** A document that is not (yet) a policy: resource snippets when it is empty, kind/apiVersion while it is being started. */
function unservedDocument(index: WorkspaceIndex, source: SourceFile, ctx: CursorContext, edit: (t: string) => TextEdit): CompletionItem[] {
  const content = ctx.doc.lines.filter((l) => !l.empty && !(l.start <= ctx.replace.start && ctx.replace.start <= l.start + l.text.length));
  const otherYaml = source.text.trim().length > 0 && source.documents.length === 0 && /\S/.test(source.text.slice(0, ctx.doc.start) + source.text.slice(ctx.doc.end));
  if (ctx.position === 'key' && ctx.path.length === 0 && content.length === 0 && !otherYaml) {
    return resourceSnippets(index).map((s, i) => ({
      label: s.label,
      kind: CompletionItemKind.Snippet,
      detail: s.detail,
      documentation: { kind: MarkupKind.Markdown, value: '```yaml\n' + s.body.replace(/\$\{\d+\|([^,|]*)[^}]*\}|\$\{\d+:?([^}]*)\}|\$\d+/g, (_m, a, b) => a ?? b ?? '') + '\n```' },
      sortText: `0${i}`,
      filterText: s.label,
      insertTextFormat: InsertTextFormat.Snippet,
      insertTextMode: InsertTextMode.asIs,
      textEdit: edit(s.body),
    }));
  }
  // `kind:` / `apiVersion:` of a document that names an Istio or devmesh group.
  const api = ctx.apiVersion;
  const ours = api === undefined || /(^|\.)istio\.io\/|^devmesh\.dev\//.test(api);
  if (ctx.position === 'value' && ctx.path.length === 1 && ours) {
    const space = ctx.needsSpace ? ' ' : '';
    if (ctx.path[0] === 'kind') {
      return KINDS.filter((k) => api === undefined || API_VERSIONS[k].includes(api))
        .map((k) => ({ label: k, kind: CompletionItemKind.Class, textEdit: edit(space + k) }));
    }
    if (ctx.path[0] === 'apiVersion') {
      const versions = [...new Set(KINDS.flatMap((k) => API_VERSIONS[k]))];
      return versions.map((v, i) => ({ label: v, kind: CompletionItemKind.Value, sortText: String(i).padStart(2, '0'), textEdit: edit(space + v) }));
    }
  }
  return [];
}

// ---------- keys ----------

function keyItems(index: WorkspaceIndex, ctx: CursorContext, edit: (t: string) => TextEdit): CompletionItem[] {
  const kind = ctx.kind!;
  const schema = schemaAt(kind, ctx.path);
  if (!schema) return [];
  // A sequence item of scalars (`hosts:` / `- |`) takes values, not keys.
  if (schema.type !== 'object' && typeof ctx.path[ctx.path.length - 1] === 'number') {
    return valueItems(index, { ...ctx, position: 'value' }, edit);
  }
  if (isLabelMap(schema)) return labelKeyItems(index, ctx, edit);
  const props = schema.properties ?? {};
  const out: CompletionItem[] = [];
  for (const [name, child] of Object.entries(props)) {
    if (ctx.siblings.has(name) || child.description === 'Set by Kubernetes; ignored.' || name === 'status') continue;
    const required = schema.required?.includes(name) ?? false;
    const notSimulated = !!child['x-notSimulated'];
    out.push({
      label: name,
      kind: CompletionItemKind.Property,
      detail: `${typeLabel(child)}${required ? ' (required)' : ''}${notSimulated ? ' — not simulated' : ''}`,
      documentation: { kind: MarkupKind.Markdown, value: fieldMarkdown(name, child, schema) },
      sortText: `${required ? 0 : notSimulated ? 2 : 1}${name}`,
      insertTextFormat: InsertTextFormat.Snippet,
      insertTextMode: InsertTextMode.asIs,
      textEdit: edit(keySnippet(name, child, ctx.column, kind)),
    });
  }
  return out;
}

/** `name: <value>` with tab stops; nested required fields are written out with their indentation. */
export function keySnippet(name: string, s: Schema, column: number, kind?: Kind): string {
  let stop = 1;
  const pad = (n: number) => ' '.repeat(n);
  const scalar = (child: Schema): string => {
    if (child.enum) return `\${${stop++}|${child.enum.join(',')}|}`;
    if (child.type === 'boolean') return `\${${stop++}|true,false|}`;
    if (child.format === 'duration') return `\${${stop++}:${escape(String(child.default ?? '1s'))}}`;
    if (child.default !== undefined && typeof child.default !== 'object') return `\${${stop++}:${escape(String(child.default))}}`;
    return `\${${stop++}}`;
  };
  const body = (key: string, child: Schema, col: number, depth: number): string => {
    if (child.type === 'object' && child.properties) {
      const req = depth < 3 ? child.required ?? [] : [];
      if (req.length === 0) return `${key}:\n${pad(col + 2)}\${${stop++}}`;
      return `${key}:` + req.map((r) => `\n${pad(col + 2)}${body(r, child.properties![r] ?? {}, col + 2, depth + 1)}`).join('');
    }
    if (child.type === 'object') return `${key}:\n${pad(col + 2)}\${${stop++}}`;
    if (child.type === 'array') {
      const item = child.items ?? {};
      if (item.type === 'object' && item.properties && (item.required?.length ?? 0) > 0 && depth < 3) {
        const [first, ...more] = item.required!;
        const itemCol = col + 4;
        return `${key}:\n${pad(col + 2)}- ${body(first, item.properties[first] ?? {}, itemCol, depth + 1)}`
          + more.map((r) => `\n${pad(itemCol)}${body(r, item.properties![r] ?? {}, itemCol, depth + 1)}`).join('');
      }
      return `${key}:\n${pad(col + 2)}- ${item.type === 'object' ? `\${${stop++}}` : scalar(item)}`;
    }
    return `${key}: ${scalar(child)}`;
  };
  void kind;
  return body(name, s, column, 0);
}

function escape(s: string): string {
  return s.replace(/[$}\\]/g, (c) => `\\${c}`);
}

function labelKeyItems(index: WorkspaceIndex, ctx: CursorContext, edit: (t: string) => TextEdit): CompletionItem[] {
  const pool = labelPool(index, ctx);
  const keys = new Map<string, Set<string>>();
  for (const w of pool) for (const [k, v] of Object.entries(w.labels)) (keys.get(k) ?? keys.set(k, new Set()).get(k)!).add(v);
  return [...keys].filter(([k]) => !ctx.siblings.has(k)).map(([k, values]) => ({
    label: k,
    kind: CompletionItemKind.Property,
    detail: `label: ${[...values].join(', ')}`,
    insertTextFormat: InsertTextFormat.Snippet,
    textEdit: edit(`${k}: ${values.size > 1 ? `\${1|${[...values].join(',')}|}` : `\${1:${[...values][0] ?? ''}}`}`),
  }));
}

/** The workloads whose labels are relevant here: the DestinationRule host's, or every workload of the Mesh. */
function labelPool(index: WorkspaceIndex, ctx: CursorContext) {
  if (ctx.kind === 'DestinationRule') {
    const host = ctx.doc.lines.find((l) => l.key?.text === 'host' && l.key.col === 2)?.value?.text;
    const svc = host ? serviceByFqdn(index, fqdnIn(index, host.replace(/^["']|["']$/g, ''), ctx.namespace)) : undefined;
    if (svc) return svc.workloads;
  }
  return index.mesh?.workloads ?? [];
}

// ---------- values ----------

function valueItems(index: WorkspaceIndex, ctx: CursorContext, edit: (t: string) => TextEdit): CompletionItem[] {
  const kind = ctx.kind!;
  const schema = schemaAt(kind, ctx.path);
  const parent = ctx.path.length ? schemaAt(kind, ctx.path.slice(0, -1)) : undefined;
  const space = ctx.needsSpace ? ' ' : '';
  const value = (label: string, extra: Partial<CompletionItem> = {}): CompletionItem => ({
    label, kind: CompletionItemKind.Value, textEdit: edit(space + label), ...extra,
  });

  if (isLabelMap(parent)) {
    const key = String(ctx.path[ctx.path.length - 1]);
    const values = new Set(labelPool(index, ctx).map((w) => w.labels[key]).filter((v): v is string => v !== undefined));
    return [...values].map((v) => value(v, { detail: `label ${key}` }));
  }
  if (!schema) return [];
  if (schema.enum) {
    const docs = schema['x-enumDescriptions'];
    return schema.enum.map((v, i) => {
      // A string that YAML would read as a number (a version such as 1.23) goes in quoted.
      const text = typeof v === 'string' && schema.type === 'string' && /^[\d.]+$/.test(v) ? `"${v}"` : String(v);
      return value(String(v), {
        kind: CompletionItemKind.EnumMember,
        detail: v === schema.default ? 'default' : undefined,
        sortText: `${v === schema.default ? 0 : 1}${String(i).padStart(2, '0')}`,
        ...(text !== String(v) ? { textEdit: edit(space + text) } : {}),
        ...(docs?.[String(v)] ? { documentation: { kind: MarkupKind.Markdown, value: docs[String(v)] } } : {}),
      });
    });
  }
  if (schema.type === 'boolean') return ['true', 'false'].map((v) => value(v, { detail: String(schema.default) === v ? 'default' : undefined }));
  if (schema.format === 'duration') {
    const list = [...new Set([...(schema.default !== undefined ? [String(schema.default)] : []), ...DURATIONS])];
    return list.map((d, i) => value(d, { detail: 'duration', sortText: String(i).padStart(2, '0') }));
  }
  switch (schema['x-ref']) {
    case 'host': return hostItems(index, ctx.namespace ?? index.defaultNamespace, value);
    case 'servicePort': return servicePortItems(index, ctx, value);
    case 'subset': return subsetItems(index, ctx, value);
    case 'principal': return principals(index).map((p) => value(p.principal, {
      detail: `service account ${p.serviceAccount}`,
      documentation: { kind: MarkupKind.Markdown, value: `Workloads: ${p.workloads.map((w) => `\`${w.name}\``).join(', ')}` },
    }));
    case 'serviceAccount': return [...new Set((index.mesh?.workloads ?? []).map((w) => w.serviceAccount))].map((sa) => value(sa, { detail: 'service account' }));
    case 'namespace': return meshNamespaces(index).map((ns, i) => value(ns, {
      detail: ns === index.defaultNamespace ? 'the Mesh\'s default namespace' : ns === index.rootNamespace ? 'root namespace (mesh-wide policies)' : 'namespace of the Mesh',
      sortText: String(i).padStart(3, '0'),
    }));
    case 'gateway': return ['mesh', ...index.byKind.Gateway.map((g) => g.name)].map((g, i) => value(g, {
      detail: g === 'mesh' ? 'every sidecar' : 'Gateway', sortText: String(i).padStart(3, '0'),
    }));
    case 'extensionProvider': return (index.mesh?.extensionProviders ?? []).filter((p) => p.kind !== 'other').map((p) => value(p.name, {
      kind: CompletionItemKind.Reference,
      detail: `${p.kind === 'http' ? 'HTTP' : 'gRPC'} external authorizer ${p.service ?? '?'}:${p.port ?? '?'}`,
      documentation: { kind: MarkupKind.Markdown, value: `Mesh \`spec.extensionProviders\` entry \`${p.name}\`: asked about the requests this policy's rules match.` },
    }));
    case 'requestPrincipal': return requestPrincipalItems(index, value);
    case 'parentRef': return unquote(ctx.siblings.get('kind')) === 'Service' ? serviceNameItems(index, ctx, value) : gatewayNameItems(index, ctx, value);
    case 'backendRef': return serviceNameItems(index, ctx, value);
  }
  return [];
}

/** `<issuer>/*` for every issuer a RequestAuthentication accepts, and `*` (any verified token). */
function requestPrincipalItems(index: WorkspaceIndex, value: (l: string, e?: Partial<CompletionItem>) => CompletionItem): CompletionItem[] {
  const issuers = new Set(index.byKind.RequestAuthentication.flatMap((ra) => arr(obj(ra.value.spec).jwtRules).map((r) => str(obj(r).issuer)).filter((i): i is string => !!i)));
  return [
    value('*', { detail: 'any verified token (with iss and sub)', sortText: '0' }),
    ...[...issuers].map((iss) => value(`${iss}/*`, { detail: 'any subject of this issuer (RequestAuthentication)', sortText: `1${iss}` })),
  ];
}

const unquote = (v: string | undefined) => v?.replace(/^["']|["']$/g, '');

/** The namespace a Gateway API reference resolves in: its own `namespace`, else the document's. */
function referenceNamespace(index: WorkspaceIndex, ctx: CursorContext): string {
  return unquote(ctx.siblings.get('namespace')) ?? ctx.namespace ?? index.defaultNamespace;
}

/** Services of the Mesh by name, as a parentRef (kind Service) or backendRef names them: in the reference's namespace. */
function serviceNameItems(index: WorkspaceIndex, ctx: CursorContext, value: (l: string, e?: Partial<CompletionItem>) => CompletionItem): CompletionItem[] {
  const ns = referenceNamespace(index, ctx);
  return (index.mesh?.services ?? []).filter((s) => s.namespace === ns).map((s) => value(s.name, {
    kind: CompletionItemKind.Reference,
    detail: `Service ${s.name}.${s.namespace}, port${s.ports.length === 1 ? '' : 's'} ${s.ports.map((p) => p.port).join(', ')}`,
    documentation: { kind: MarkupKind.Markdown, value: serviceMarkdown(s) },
  }));
}

/** Gateway API Gateways of the reference's namespace, with their listeners. */
function gatewayNameItems(index: WorkspaceIndex, ctx: CursorContext, value: (l: string, e?: Partial<CompletionItem>) => CompletionItem): CompletionItem[] {
  const ns = referenceNamespace(index, ctx);
  return index.gatewayApi.gateways.filter((g) => g.namespace === ns).map((g) => value(g.name, {
    kind: CompletionItemKind.Reference,
    detail: `Gateway (class ${g.gatewayClassName})`,
    documentation: { kind: MarkupKind.Markdown, value: g.listeners.map((l) => `- \`${l.name}\`: ${l.protocol} ${l.port}${l.hostname ? ` ${l.hostname}` : ''}`).join('\n') || 'no listener devmesh serves' },
  }));
}

/**
 * Hosts as a policy in `namespace` may name them: a service of that namespace
 * by its short name (and FQDN), one of another namespace by its FQDN only —
 * Istio reads `name.namespace` in a policy literally, as no service.
 */
function hostItems(index: WorkspaceIndex, namespace: string, value: (l: string, e?: Partial<CompletionItem>) => CompletionItem): CompletionItem[] {
  // ServiceEntry hosts are written as they are (a policy reads a dotted host literally).
  const seen = new Set<string>();
  const entries = index.cluster.serviceEntries.flatMap((se) => se.hosts.filter((h) => !seen.has(h) && seen.add(h)).map((host) => value(host, {
    kind: CompletionItemKind.Reference,
    detail: `ServiceEntry ${se.namespace}/${se.doc.name}, port${se.ports.length === 1 ? '' : 's'} ${se.ports.join(', ') || '?'}, resolution ${String(se.doc.value.spec?.resolution ?? 'NONE')}`,
    sortText: `3${host}`,
  })));
  return [...meshHostItems(index, namespace, value), ...entries];
}

function meshHostItems(index: WorkspaceIndex, namespace: string, value: (l: string, e?: Partial<CompletionItem>) => CompletionItem): CompletionItem[] {
  return (index.mesh?.services ?? []).flatMap((s) => {
    const documentation = { kind: MarkupKind.Markdown, value: serviceMarkdown(s) };
    const detail = `Mesh service ${s.name}.${s.namespace}, port${s.ports.length === 1 ? '' : 's'} ${s.ports.map((p) => p.port).join(', ') || '?'}, ${s.workloads.length} workload${s.workloads.length === 1 ? '' : 's'}`;
    const here = s.namespace === namespace;
    return [
      ...(here ? [value(s.name, { kind: CompletionItemKind.Reference, detail, documentation, sortText: `0${s.name}` })] : []),
      value(s.fqdn, { kind: CompletionItemKind.Reference, detail, documentation, sortText: `${here ? 1 : 2}${s.name}`, filterText: `${s.name}.${s.namespace} ${s.fqdn}` }),
    ];
  });
}

/** The ports of the services this document names (its hosts, its destinations, a DestinationRule's host). */
function servicePortItems(index: WorkspaceIndex, ctx: CursorContext, value: (l: string, e?: Partial<CompletionItem>) => CompletionItem): CompletionItem[] {
  // A Gateway API reference: the ports of the Service (or the listeners of the Gateway) it names.
  if (ctx.kind && isRouteKind(ctx.kind)) {
    const name = unquote(ctx.siblings.get('name'));
    const ns = referenceNamespace(index, ctx);
    const parent = ctx.path.includes('parentRefs');
    if (parent && (unquote(ctx.siblings.get('kind')) ?? 'Gateway') === 'Gateway') {
      const gw = index.gatewayApi.gateways.find((g) => g.namespace === ns && g.name === name);
      return [...new Set(gw?.listeners.map((l) => l.port) ?? [])].map((p) => value(String(p), { detail: `listeners ${gw!.listeners.filter((l) => l.port === p).map((l) => l.name).join(', ')} of Gateway ${gw!.key}` }));
    }
    const svc = (index.mesh?.services ?? []).find((s) => s.namespace === ns && s.name === name);
    return (svc?.ports ?? []).map((p) => value(String(p.port), { detail: `port ${p.name || p.port} of ${svc!.name}.${svc!.namespace} (${p.protocol}, targetPort ${p.targetPort})` }));
  }
  const named = new Set<string>();
  for (const l of ctx.doc.lines) {
    const text = l.key?.text === 'host' ? l.value?.text : undefined;
    if (text) named.add(text.replace(/^["']|["']$/g, ''));
    for (const m of l.text.matchAll(/host:\s*["']?([A-Za-z0-9.*-]+)/g)) named.add(m[1]);
    const hosts = /^\s*hosts:\s*\[(.*)\]/.exec(l.text);
    if (hosts) for (const h of hosts[1].split(',')) named.add(h.trim().replace(/^["']|["']$/g, ''));
    const item = /^\s*-\s*["']?([A-Za-z0-9.*-]+)["']?\s*$/.exec(l.text);
    if (item) named.add(item[1]);
  }
  const services = [...new Set([...named].map((h) => serviceByFqdn(index, fqdnIn(index, h, ctx.namespace))).filter((s): s is ServiceView => !!s))];
  return services.flatMap((s) => s.ports.map((p) => value(String(p.port), {
    kind: CompletionItemKind.Value,
    detail: `port ${p.name || p.port} of ${s.name}.${s.namespace} (${p.protocol}, targetPort ${p.targetPort})`,
  })));
}

/** The namespaces of the Mesh (default first) and the root namespace. */
function meshNamespaces(index: WorkspaceIndex): string[] {
  const mesh = index.mesh;
  return [...new Set([index.defaultNamespace, ...(mesh?.services ?? []).map((s) => s.namespace), ...(mesh?.workloads ?? []).map((w) => w.namespace), index.rootNamespace])];
}

function subsetItems(index: WorkspaceIndex, ctx: CursorContext, value: (l: string, e?: Partial<CompletionItem>) => CompletionItem): CompletionItem[] {
  const host = ctx.siblings.get('host');
  if (!host) return [];
  const fqdn = fqdnIn(index, host, ctx.namespace);
  const svc = serviceByFqdn(index, fqdn);
  return subsetsOf(index, fqdn).map((s) => {
    const workloads = subsetWorkloads(index, svc, s);
    return value(s.name, {
      kind: CompletionItemKind.EnumMember,
      detail: `${labelsText(s.labels)} — DestinationRule ${s.rule.name}`,
      documentation: { kind: MarkupKind.Markdown, value: `Selects ${workloads.length ? workloads.map((w) => `\`${w.name}\``).join(', ') : 'no workload'}` },
    });
  });
}
