/**
 * What the editor says about a rule and a route destination from the running
 * mesh: the code lens title of a rule (from `GET /api/rules`) and the live
 * half of a destination's hover (from `GET /api/topology`). Pure (no
 * `vscode` import), so unit tests run it in plain Node.
 */
import type { RuleList, RuleStats, Topology } from '../simulator/control/api/contract';
import type { DestinationInfo } from '../language-server/requests';

const minutes = (ms: number) => Math.max(1, Math.round(ms / 60_000));

function rate(perMinute: number): string {
  return perMinute >= 10 ? String(Math.round(perMinute)) : String(Number(perMinute.toFixed(1)));
}

/**
 * One rule's lens: requests per minute that matched, the error share and p99
 * over the window, or that none matched in it (and when one last did). A
 * tcp[]/tls[] rule counts connections.
 */
export function ruleLensTitle(rule: string, list: Pick<RuleList, 'windowMs' | 'now'>, s: RuleStats | undefined): string {
  // A tcp[]/tls[] rule decides connections; an AuthorizationPolicy rule, whatever reached it (connections when network RBAC decided them all).
  const unit = /\/(tcp|tls)\/\d+$/.test(rule) || (s !== undefined && s.requests > 0 && s.connections === s.requests) ? 'conn' : 'req';
  const window = `${minutes(list.windowMs)} minutes`;
  if (!s || s.requests === 0) {
    const last = s && s.lastHit > 0 ? ` (last ${minutes(list.now - s.lastHit)} min ago)` : '';
    return `$(circle-slash) no ${unit === 'conn' ? 'connection' : 'request'} matched in the last ${window}${last}`;
  }
  const parts = [`${rate(s.requestsPerMinute)} ${unit}/min`];
  if (unit === 'req' && s.connections > 0) parts.push(`${s.connections} TCP conn`);
  parts.push(`${Number((s.errorRate * 100).toFixed(1))} % errors`);
  if (s.p99Ms !== null && unit === 'req') parts.push(`p99 ${s.p99Ms < 10 ? s.p99Ms.toFixed(1) : Math.round(s.p99Ms)} ms`);
  parts.push(`${s.requests} in ${window}`);
  return `$(pulse) ${parts.join(' · ')}`;
}

export function ruleLensTooltip(rule: string, s: RuleStats | undefined): string {
  const edges = s?.edges.map((e) => `${e.source} → ${e.destination}: ${e.requests}`).join('\n');
  return `${rule}${s ? `\n${s.total} since the mesh started` : ''}${edges ? `\n${edges}` : ''}\nClick for the recent traces it decided.`;
}

/** The static half, from the language server (devmesh/destinationAt). */
export type DestinationFacts = Omit<DestinationInfo, 'range'>;

/**
 * Markdown: the endpoints the destination selects now — each workload's
 * sidecar and app health, restarts, and which callers' outlier detection
 * ejects it — or, without a running mesh, that it is not running and the
 * workloads the Mesh file says it selects.
 */
export function destinationMarkdown(d: DestinationFacts, topology: Topology | undefined, now = Date.now()): string {
  const name = `\`${d.host}${d.port ? `:${d.port}` : ''}\`${d.subset ? ` subset \`${d.subset}\`` : ''}`;
  if (d.problem) return `**Endpoints** of ${name}: none — ${d.problem}`;
  if (!topology) {
    return [
      `**Endpoints** of ${name}: mesh not running — run *DevMesh: Start Mesh* to see their health and ejections.`,
      '',
      `Selects (Mesh file): ${d.workloads.map((w) => `\`${w}\``).join(', ') || 'no workload'}`,
    ].join('\n');
  }
  const lines = [`**Endpoints now** of ${name} (mesh \`${topology.mesh}\`, config v${topology.version}):`, ''];
  for (const w of d.workloads) {
    const live = topology.workloads.find((x) => x.name === w);
    if (!live) { lines.push(`- \`${w}\` — not in the running mesh (the Mesh file changed since it started?)`); continue; }
    const healthy = live.health.sidecar === 'up' && live.health.app === 'up';
    const ejections = topology.outliers.filter((o) => o.host === w && (!o.until || Date.parse(o.until) > now));
    const facts = [
      `${healthy ? '$(pass) healthy' : '$(error) unhealthy'}: sidecar ${live.health.sidecar}, app ${live.health.app} on 127.0.0.1:${live.appPort}`,
      live.restarts.app + live.restarts.sidecar > 0 ? `${live.restarts.app + live.restarts.sidecar} restart(s)` : '',
      ...ejections.map((o) => `ejected by ${o.reporter}'s outlier detection${o.until ? ` until ${new Date(o.until).toLocaleTimeString()}` : ''}`),
    ].filter(Boolean);
    lines.push(`- \`${w}\` — ${facts.join('; ')}`);
  }
  if (!d.workloads.length) lines.push('- no workload is selected');
  return lines.join('\n');
}
