/**
 * The defaults a mesh runs with: its flavor's table at the chosen release
 * (`spec.compatibilityVersion`, else the newest), then the Mesh's own
 * `meshConfig`. Pure; the result is plain JSON that travels in the snapshot,
 * and every value says where it came from (`provenance`).
 */
import { parseDuration } from '../duration';
import type { MeshSpec } from '../model';
import { flavorProfile } from '../flavors';
import { ISTIO } from './istio';
import type { Change, Defaults, FlavorTable, Provenance, ResolvedDefaults } from './types';

/** The Mesh fields defaults depend on. */
export type DefaultsInput = Pick<MeshSpec, 'flavor' | 'compatibilityVersion' | 'meshConfig' | 'telemetry'>;

const minor = (v: string) => Number(v.split('.')[1] ?? 0);

/** Whether a release is older than another (`1.23` < `1.24`). */
export function olderThan(a: string, b: string): boolean {
  return minor(a) < minor(b);
}

export function resolveDefaults(input: DefaultsInput = {}): ResolvedDefaults {
  const table = flavorProfile(input.flavor).defaults;
  const asked = input.compatibilityVersion;
  const version = asked !== undefined && table.versions.includes(asked) ? asked : table.current;
  const d = structuredClone(table.defaults) as Defaults;
  const provenance: Record<string, Provenance> = {};
  for (const [path, source] of Object.entries(table.sources)) provenance[path] = { from: 'default', version: table.current, source };
  for (const c of changesAfter(table, version)) {
    set(d, c.path, structuredClone(c.before));
    provenance[c.path] = { from: 'compatibilityVersion', version, source: c.source, ...(c.feature ? { feature: c.feature } : {}) };
  }
  applyMeshConfig(d, provenance, input.meshConfig, version);
  applyTelemetry(d, provenance, input.telemetry, version);
  return { ...d, flavor: table.flavor, version, ...(asked !== undefined ? { compatibilityVersion: asked } : {}), provenance };
}

/** The behaviour changes a compatibility version undoes: those of the releases after it. */
export function changesAfter(table: FlavorTable, version: string): Change[] {
  return table.changes.filter((c) => olderThan(version, c.since));
}

/** Markdown for a compatibility version: what it brings back, and the flips devmesh has nothing to simulate for. */
export function describeVersion(version: string, table: FlavorTable = ISTIO): string {
  if (version === table.current) return `**${version}**: the newest release devmesh follows; same as leaving \`compatibilityVersion\` out.`;
  const changes = changesAfter(table, version);
  const unmodelled = table.unmodelled.filter((u) => olderThan(version, u.since));
  const lines = [`**${version}**: Istio ${version}'s defaults instead of ${table.current}'s.`, ''];
  if (changes.length) lines.push(...changes.map((c) => `- ${c.summary} (undoes ${c.since}${c.feature ? `, \`${c.feature}=false\`` : ''})`));
  else lines.push(`- nothing devmesh simulates differs from ${table.current}`);
  if (unmodelled.length) lines.push('', `Also flipped by Istio's profile, with no local effect: ${unmodelled.map((u) => `\`${u.feature}\``).join(', ')}.`);
  return lines.join('\n');
}

function applyMeshConfig(d: Defaults, provenance: Record<string, Provenance>, mc: DefaultsInput['meshConfig'], version: string): void {
  if (!mc) return;
  const mark = (path: string, field: string) => { provenance[path] = { from: 'meshConfig', version, source: `Mesh spec.meshConfig.${field}` }; };
  if (mc.defaultHttpRetryPolicy) {
    d.defaultHttpRetryPolicy = structuredClone(mc.defaultHttpRetryPolicy);
    mark('defaultHttpRetryPolicy', 'defaultHttpRetryPolicy');
  }
  const n = mc.pathNormalization?.normalization;
  if (n && n !== 'DEFAULT') {
    d.pathNormalization = n;
    mark('pathNormalization', 'pathNormalization.normalization');
  }
  const ct = mc.connectTimeout ? parseDuration(mc.connectTimeout) : undefined;
  if (ct) {
    d.connectionPool.connectTimeoutMs = ct;
    mark('connectionPool.connectTimeoutMs', 'connectTimeout');
  }
  if (mc.enableAutoMtls !== undefined) {
    d.autoMtls = mc.enableAutoMtls;
    mark('autoMtls', 'enableAutoMtls');
  }
  const fccd = mc.defaultConfig?.gatewayTopology?.forwardClientCertDetails;
  if (fccd && fccd !== 'UNDEFINED') {
    // pilot buildGatewayConnectionManager: gatewayTopology's mode replaces SANITIZE_SET on every gateway listener.
    d.proxyHeaders.forwardedClientCert = { ...d.proxyHeaders.forwardedClientCert, gateway: fccd };
    mark('proxyHeaders.forwardedClientCert', 'defaultConfig.gatewayTopology.forwardClientCertDetails');
  }
  const trusted = mc.defaultConfig?.gatewayTopology?.numTrustedProxies;
  if (typeof trusted === 'number' && trusted > 0) {
    d.proxyHeaders.trustedProxiesAtGateway = trusted;
    mark('proxyHeaders.trustedProxiesAtGateway', 'defaultConfig.gatewayTopology.numTrustedProxies');
  }
  const ph = mc.defaultConfig?.proxyHeaders;
  if (!ph) return;
  const at = (f: string) => `defaultConfig.proxyHeaders.${f}`;
  const h = d.proxyHeaders;
  if (ph.server?.disabled) {
    h.server = { outbound: null, inbound: null, gateway: null };
    mark('proxyHeaders.server', at('server.disabled'));
  } else if (ph.server?.value) {
    h.server = { outbound: ph.server.value, inbound: ph.server.value, gateway: ph.server.value };
    mark('proxyHeaders.server', at('server.value'));
  }
  if (ph.attemptCount?.disabled) { h.attemptCount = false; mark('proxyHeaders.attemptCount', at('attemptCount.disabled')); }
  if (ph.requestId?.disabled) { h.requestId = false; mark('proxyHeaders.requestId', at('requestId.disabled')); }
  if (ph.envoyDebugHeaders?.disabled) { h.envoyDebugHeaders = false; mark('proxyHeaders.envoyDebugHeaders', at('envoyDebugHeaders.disabled')); }
  if (ph.xForwardedHost?.enabled) { h.xForwardedHost = true; mark('proxyHeaders.xForwardedHost', at('xForwardedHost.enabled')); }
  if (ph.xForwardedPort?.enabled) { h.xForwardedPort = true; mark('proxyHeaders.xForwardedPort', at('xForwardedPort.enabled')); }
  if (ph.forwardedClientCert && ph.forwardedClientCert !== 'UNDEFINED') {
    // Gateways take theirs from gatewayTopology, not proxyHeaders (pilot gateway.go:722).
    h.forwardedClientCert = { ...h.forwardedClientCert, inbound: ph.forwardedClientCert };
    mark('proxyHeaders.forwardedClientCert', at('forwardedClientCert'));
  }
  const cd = ph.setCurrentClientCertDetails;
  if (cd) {
    h.setCurrentClientCertDetails = { subject: cd.subject ?? true, uri: cd.uri ?? true, dns: cd.dns ?? true };
    mark('proxyHeaders.setCurrentClientCertDetails', at('setCurrentClientCertDetails'));
  }
}

/** The tracer decides the trace headers: an OTLP collector means Envoy's OpenTelemetry tracer (W3C), unless the Mesh names the format. */
function applyTelemetry(d: Defaults, provenance: Record<string, Provenance>, t: DefaultsInput['telemetry'], version: string): void {
  if (t?.propagation) {
    d.tracePropagation = t.propagation;
    provenance.tracePropagation = { from: 'mesh', version, source: 'Mesh spec.telemetry.propagation' };
  } else if (t?.otlp) {
    d.tracePropagation = 'w3c';
    provenance.tracePropagation = { from: 'mesh', version, source: 'Mesh spec.telemetry.otlp: the OpenTelemetry tracer (Istio\'s opentelemetry provider -> envoy.tracers.opentelemetry) reads and writes W3C traceparent/tracestate' };
  }
}

function set(target: object, path: string, value: unknown): void {
  const keys = path.split('.');
  let o = target as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  o[keys[keys.length - 1]] = value;
}
