/**
 * `devmesh describe workload|service NAME [-f mesh.yaml] [--format json]`:
 * what the policy files make of one workload or service, offline, as
 * `istioctl x describe pod|svc` tells it for a cluster (describe/).
 *
 * Exit status: 0 described, 2 for a usage error (no such workload or
 * service) or policies with errors.
 */
import type { Command } from 'commander';

interface Opts { file: string; format: string }

export function register(program: Command, setExit: (code: number) => void): void {
  program
    .command('describe')
    .description('describe a workload or service from the policy files (offline): ports, DestinationRule subsets, routes that reach it and that never will, mTLS, authorization, ingress')
    .argument('<kind>', 'workload or service')
    .argument('<name>', 'the workload name (reviews-v2), or the service (reviews, reviews.default or its FQDN)')
    .option('-f, --file <mesh.yaml>', 'the Mesh file', 'mesh.yaml')
    .option('--format <format>', 'text or json', 'text')
    .addHelpText('after', `
Examples:
  devmesh describe workload reviews-v2 -f examples/bookinfo/mesh.yaml
  devmesh describe service reviews -f examples/bookinfo/mesh.yaml --format json
  devmesh describe service details.default -f examples/bookinfo-namespaces/mesh.yaml`)
    .action(async (kind: string, name: string, opts: Opts) => { setExit(await describe(kind, name, opts)); });
}

function usage(message: string): number {
  process.stderr.write(`devmesh describe: ${message}\n`);
  return 2;
}

async function describe(kind: string, name: string, o: Opts): Promise<number> {
  const k = { workload: 'workload', wl: 'workload', pod: 'workload', service: 'service', svc: 'service' }[kind.toLowerCase()];
  if (!k) return usage(`"${kind}" is not something to describe: write workload NAME or service NAME`);
  if (o.format !== 'text' && o.format !== 'json') return usage(`unknown --format "${o.format}" (use text or json)`);
  const { offlineSnapshot, PolicyErrors } = await import('./offlineSnapshot');
  const { describeService, describeWorkload, DescribeUsageError } = await import('../describe/describe');
  const { formatDescribe } = await import('../describe/format');
  try {
    const snapshot = await offlineSnapshot(o.file);
    const result = k === 'workload' ? describeWorkload(snapshot, name) : describeService(snapshot, name);
    process.stdout.write(o.format === 'json' ? JSON.stringify(result, null, 2) + '\n' : formatDescribe(result));
    return 0;
  } catch (e) {
    if (e instanceof DescribeUsageError || e instanceof PolicyErrors) return usage(e.message);
    throw e;
  }
}
