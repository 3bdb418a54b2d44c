/**
 * `devmesh proxy-config listeners|routes|clusters|endpoints|secret|all WORKLOAD [-f mesh.yaml] [-o json]`:
 * the effective configuration of one running sidecar (or the ingress), from
 * its own config dump — its admin port, reached through the control API —
 * in the columns `istioctl proxy-config` prints (proxy-config/format.ts).
 * Endpoints carry the health the control plane knows of each workload (its
 * sidecar serving, its app accepting: Istio's EDS health) and this
 * sidecar's outlier detection (OUTLIER CHECK FAILED while a host is ejected).
 *
 * Exit status: 0 printed, 1 no running mesh or no such sidecar, 2 usage error.
 */
import type { Command } from 'commander';
import type { SidecarConfigDump, Topology } from '../control/api/contract';
import * as f from '../proxy-config/format';
import type { EndpointRow } from '../proxy-config/format';
import { MeshClientError, onMesh } from './meshClient';

interface Opts { file: string; output: string }

const SECTIONS = { listeners: 'listeners', listener: 'listeners', routes: 'routes', route: 'routes', clusters: 'clusters', cluster: 'clusters', endpoints: 'endpoints', endpoint: 'endpoints', ep: 'endpoints', secret: 'secrets', secrets: 'secrets', all: 'all' } as const;
type Section = (typeof SECTIONS)[keyof typeof SECTIONS];

export function register(program: Command, setExit: (code: number) => void): void {
  program
    .command('proxy-config')
    .alias('pc')
    .description("print one running sidecar's listeners, routes, clusters, endpoints (with health and outlier ejection) or secrets, from its own config dump, in istioctl's columns")
    .argument('<type>', 'listeners, routes, clusters, endpoints, secret or all')
    .argument('<workload>', 'the workload whose sidecar to read, or istio-ingressgateway for the ingress')
    .option('-f, --file <mesh.yaml>', 'the Mesh file of the running mesh', 'mesh.yaml')
    .option('-o, --output <format>', 'table or json (the whole section as the sidecar has it)', 'table')
    .addHelpText('after', `
Examples:
  devmesh proxy-config clusters productpage-v1 -f examples/bookinfo/mesh.yaml
  devmesh proxy-config endpoints productpage-v1 -f examples/bookinfo/mesh.yaml
  devmesh pc routes istio-ingressgateway -f examples/bookinfo/mesh.yaml -o json`)
    .action(async (type: string, workload: string, opts: Opts) => { setExit(await proxyConfig(type, workload, opts)); });
}

function usage(message: string): number {
  process.stderr.write(`devmesh proxy-config: ${message}\n`);
  return 2;
}

async function proxyConfig(type: string, workload: string, o: Opts): Promise<number> {
  const section: Section | undefined = SECTIONS[type.toLowerCase() as keyof typeof SECTIONS];
  if (!section) return usage(`"${type}" is not a section: use listeners, routes, clusters, endpoints, secret or all`);
  if (o.output !== 'table' && o.output !== 'json') return usage(`unknown -o "${o.output}" (use table or json)`);
  try {
    const { dump, topology } = await onMesh(o.file, async (client) => {
      const [dump, topology] = await Promise.all([client.sidecarConfigDump(workload), section === 'endpoints' || section === 'all' ? client.topology() : Promise.resolve(undefined)]);
      return { dump, topology };
    });
    if (!dump?.proxyConfig) throw new MeshClientError(`the sidecar of ${workload} served no proxyConfig in its config dump (a sidecar from an older devmesh?)`);
    process.stdout.write(render(section, dump, topology, o.output === 'json'));
    return 0;
  } catch (e) {
    if (!(e instanceof MeshClientError)) throw e;
    process.stderr.write(`devmesh proxy-config: ${e.message}\n`);
    return 1;
  }
}

function render(section: Section, dump: SidecarConfigDump, topology: Topology | undefined, json: boolean): string {
  const pc = dump.proxyConfig;
  const endpoints = topology ? withHealth(pc.endpoints, topology) : [];
  if (json) {
    const whole = section === 'all' ? { ...pc, endpoints } : section === 'endpoints' ? endpoints : pc[section];
    return JSON.stringify(whole, null, 2) + '\n';
  }
  const tables: Record<Exclude<Section, 'all'>, () => string> = {
    listeners: () => f.listenersTable(pc.listeners),
    routes: () => f.routesTable(pc.routes),
    clusters: () => f.clustersTable(pc.clusters),
    endpoints: () => f.endpointsTable(endpoints) + ejections(endpoints),
    secrets: () => f.secretsTable(pc.secrets),
  };
  if (section !== 'all') return tables[section]() + '\n';
  return (Object.keys(tables) as Array<keyof typeof tables>).map((k) => tables[k]()).join('\n\n') + '\n';
}

/** EDS health as the control plane knows it: the workload's sidecar serves and its app accepts. */
function withHealth(endpoints: SidecarConfigDump['proxyConfig']['endpoints'], topology: Topology): EndpointRow[] {
  const byName = new Map(topology.workloads.map((w) => [w.name, w]));
  return endpoints.map((e) => {
    const w = byName.get(e.workload);
    const up = !w || (w.health.sidecar === 'up' && w.health.app === 'up');
    return { ...e, health: up ? 'HEALTHY' : 'UNHEALTHY' };
  });
}

/** Below the table: each ejected host, until when and why, as this sidecar's outlier detection has it. */
function ejections(endpoints: readonly EndpointRow[]): string {
  const out = endpoints.filter((e) => e.outlier.ejected)
    .map((e) => `\n${e.workload} is ejected from ${e.cluster} until ${e.outlier.ejectedUntil} (${e.outlier.ejectionReason ?? 'outlier detection'}, ejected ${e.outlier.timesEjected} time${e.outlier.timesEjected === 1 ? '' : 's'})`);
  return out.length ? '\n' + out.join('') : '';
}
