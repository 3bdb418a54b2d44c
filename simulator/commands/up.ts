/**
 * `devmesh up [-f mesh.yaml]`: runs the mesh in the foreground until
 * Ctrl-C/SIGTERM. All the work is in control/runtime.ts; this module only
 * maps it onto a terminal: the banner, signals, exit codes.
 */
import type { Command } from 'commander';
import * as path from 'node:path';
import type { MeshStarted } from '../control/runtime';
import { meshTable, reachTable } from '../control/table';
import { describeGatewayListeners, describeL4GatewayListeners } from '../control/gateway-ingress';
import type { MeshSnapshot, ServiceInfo } from '../protocol';

export function register(program: Command, setExit: (code: number) => void): void {
  program
    .command('up')
    .description('start the mesh: sidecars with mTLS, the apps, the control API; applies policy and Mesh edits live')
    .option('-f, --file <mesh.yaml>', 'the Mesh file; policies are read from its folder tree', 'mesh.yaml')
    .option('--control-port <n>', 'port of the control API and dashboard on 127.0.0.1; overrides the Mesh\'s spec.controlPort (default 15000)')
    .option('--access-log', 'print every sidecar\'s access log (Envoy format)', false)
    .option('--log-format <format>', 'access-log format: text (Istio\'s Envoy format) or json', 'text')
    .option('--otlp-endpoint <url>', 'send spans over OTLP/HTTP to this collector (e.g. http://127.0.0.1:4318/v1/traces)')
    .option('--max-traces <n>', 'traces kept in memory for `devmesh traces` and the API', '1000')
    .action(async (opts: { file: string; controlPort?: string; accessLog: boolean; logFormat: string; otlpEndpoint?: string; maxTraces: string }) => {
      if (opts.logFormat !== 'text' && opts.logFormat !== 'json') {
        process.stderr.write(`devmesh up: --log-format must be text or json (got ${opts.logFormat})\n`);
        return setExit(2);
      }
      const maxTraces = Number(opts.maxTraces);
      if (!Number.isInteger(maxTraces) || maxTraces < 1) {
        process.stderr.write(`devmesh up: --max-traces must be a positive integer (got ${opts.maxTraces})\n`);
        return setExit(2);
      }
      const controlPort = opts.controlPort === undefined ? undefined : Number(opts.controlPort);
      if (controlPort !== undefined && !(/^\d+$/.test(opts.controlPort!) && controlPort >= 1 && controlPort <= 65535)) {
        process.stderr.write(`devmesh up: --control-port must be a port number from 1 to 65535 (got ${opts.controlPort})\n`);
        return setExit(2);
      }
      if (opts.otlpEndpoint && !/^https?:\/\//.test(opts.otlpEndpoint)) {
        process.stderr.write(`devmesh up: --otlp-endpoint must be an http:// or https:// URL (got ${opts.otlpEndpoint})\n`);
        return setExit(2);
      }
      setExit(await up(opts.file, { accessLog: opts.accessLog, logFormat: opts.logFormat, otlpEndpoint: opts.otlpEndpoint, maxTraces, controlPort }));
    });
}

export async function up(meshFile: string, opts: { accessLog?: boolean; logFormat?: 'text' | 'json'; otlpEndpoint?: string; maxTraces?: number; controlPort?: number } = {}): Promise<number> {
  const { MeshRuntime, UpError } = await import('../control/runtime');
  const runtime = new MeshRuntime({ meshFile, ...opts });
  let signals = 0;
  let stopped: () => void = () => undefined;
  const whenStopped = new Promise<void>((r) => { stopped = r; });
  const onSignal = (sig: NodeJS.Signals) => {
    if (++signals > 1) {
      // A second Ctrl-C means "now": kill everything without waiting.
      process.stderr.write(`devmesh: ${sig} again, killing everything\n`);
      runtime.killAll();
      process.exit(130);
    }
    process.stderr.write(`devmesh: ${sig}, stopping the mesh...\n`);
    runtime.stop().then(stopped, stopped);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  // If devmesh dies of a bug, it must not leave sidecars and apps behind.
  process.on('exit', () => runtime.killAll());

  try {
    const started = await runtime.start();
    for (const line of readyBanner(started, { accessLog: !!opts.accessLog, cwd: process.cwd() })) process.stdout.write(line + '\n');
  } catch (e) {
    if (e instanceof UpError) {
      for (const line of e.lines) process.stderr.write(line + '\n');
      // Everything devmesh started is stopped, but a process one of them left
      // behind (a daemon in its own group) can still hold a child's output pipe
      // open, which would keep Node alive: exit anyway, as after a clean stop.
      setTimeout(() => process.exit(1), 2_000).unref();
      return 1;
    }
    await runtime.stop().catch(() => undefined);
    throw e;
  }
  await whenStopped;
  process.stdout.write('devmesh: mesh stopped\n');
  // Everything is closed, so Node exits by itself; should a stray handle remain,
  // this unref'd timer still ends the process instead of hanging the terminal.
  setTimeout(() => process.exit(0), 2_000).unref();
  return 0;
}

/** What `up` prints once the mesh serves: the table, where the API is, and a first request to try. Pure. */
export function readyBanner(m: Pick<MeshStarted, 'session' | 'snapshot' | 'rootDir' | 'ms' | 'phases'> & Partial<Pick<MeshStarted, 'listenerCertificates'>>, o: { accessLog: boolean; cwd: string }): string[] {
  const s = m.snapshot;
  const rel = (f: string) => path.relative(o.cwd, f);
  const lines = ['', meshTable(s), ...describeGatewayListeners(s.ingress.listeners ?? [], m.listenerCertificates ?? {}), ...describeL4GatewayListeners(s), '', 'how apps reach each service through their sidecar (every app has HTTP_PROXY, HTTPS_PROXY and grpc_proxy set):', reachTable(s), ''];
  lines.push(`mesh ${s.meshName} ready in ${Math.round(m.ms)} ms (${Object.entries(m.phases).map(([k, v]) => `${k} ${v}`).join(', ')}) — config v${s.version}, ${s.workloads.length} workloads, mTLS identities from a local CA`);
  lines.push(`control API + dashboard: ${m.session.apiUrl}  (token in ${rel(path.join(m.rootDir, '.devmesh', 'session.json'))})`);
  if (m.session.dashboardUrl) lines.push(`open the dashboard: ${m.session.dashboardUrl}`);
  const entry = entryPoint(s);
  if (entry) {
    // The ingress reads short names in the Mesh's namespace; elsewhere the host is name.namespace.
    const host = entry.service.namespace === s.namespace ? entry.service.name : `${entry.service.name}.${entry.service.namespace}`;
    lines.push(`try:  curl -x http://127.0.0.1:${s.ingress.port} http://${host}:${entry.service.port}${entry.path}`);
    if (entry.gateways.length) lines.push(`      curl http://127.0.0.1:${s.ingress.port}${entry.path}   (routed by Gateway ${entry.gateways.join(', ')})`);
  }
  lines.push(`watching ${rel(m.rootDir) || '.'} for policy edits; Ctrl-C stops the mesh${o.accessLog ? '' : ' (--access-log prints every request)'}`);
  return lines;
}

/**
 * Where a person would try the mesh first: the first route of a
 * VirtualService bound to a Gateway (its first exact or prefix path, and the
 * service it routes to), else the first service at "/".
 */
export function entryPoint(s: MeshSnapshot): { service: ServiceInfo; path: string; gateways: string[] } | undefined {
  // A short host is read in the VirtualService's namespace, as Istio does; `name.namespace` and the FQDN anywhere.
  const serviceOf = (host: string, ns: string) => s.services.find((x) => x.fqdn === host || `${x.name}.${x.namespace}` === host || (x.name === host && x.namespace === ns));
  for (const vs of s.virtualServices) {
    const gateways = (vs.spec.gateways ?? []).filter((g) => s.gateways.some((gw) => gw.metadata.name === g.split('/').pop()));
    if (!gateways.length) continue;
    for (const rule of vs.spec.http ?? []) {
      const service = rule.route?.map((r) => serviceOf(r.destination.host, vs.metadata.namespace ?? s.namespace)).find(Boolean);
      if (!service) continue;
      const uri = rule.match?.map((m) => m.uri).find((u) => u?.exact !== undefined || u?.prefix !== undefined);
      return { service, path: uri?.exact ?? uri?.prefix ?? '/', gateways };
    }
  }
  const first = s.services[0];
  return first && { service: first, path: '/', gateways: [] };
}
