/**
 * `npm run bench -- tcp [--quick]`: TCP through the mesh, side by side in one
 * run on 127.0.0.1, as the data-plane benchmark measures HTTP:
 *
 *   direct        client -> service
 *   devmesh h2    client -> local upstream port -> CONNECT stream on the pair's mTLS HTTP/2 session -> peer sidecar -> service
 *   devmesh tls   client -> local upstream port -> a TLS connection per connection (HTTP/1.1 CONNECT) -> peer sidecar -> service
 *   nginx stream  client -> nginx stream -> mTLS -> nginx stream (ssl_verify_client) -> service
 *
 * Throughput is Debian's iperf3 (one stream, and four); new connections per
 * second is bench/tcp/connRate.ts (open, one line each way, close). The
 * clients run on CPU 0; service and proxies on CPU 1. Both devmesh chains
 * carry a tcp[] route, STRICT mTLS and an AuthorizationPolicy on the path.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createCa } from '../simulator/control/ca';
import { serviceFqdn, spiffeId } from '../simulator/policy/hosts';
import type { Resource } from '../simulator/policy/model';
import type { MeshSnapshot } from '../simulator/protocol';
import { startDevmeshChain, type DevmeshChain } from './dataplane/devmeshChain';
import { nginxStreamAvailable, startNginxStreamChain, type NginxChain } from './dataplane/nginx';
import { freePort } from './dataplane/ports';
import { CPUS, cpuMsOf, firstJsonLine, has, pin, spawnPinned, stopChild } from './dataplane/procs';
import { phase } from './lifecycle';
import type { BenchResult } from './stats';

const TD = 'cluster.local';
const NS = 'default';
const fmt = (n: number, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }) : '—');
const ratio = (a: number, b: number | undefined) => (b && Number.isFinite(a) && Number.isFinite(b) ? `${(a / b).toFixed(2)}x` : '—');
const table = (head: string[], rows: string[][]) => [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Caller `client-v1` with two upstream ports; services `iperf` (iperf3) and `echo` (connRate's service), both tcp. */
export function tcpSnapshot(o: { iperfPort: number; echoPort: number; client: number[]; iperfSc: number[]; echoSc: number[]; ingress: number[]; upstreams: [number, number] }): MeshSnapshot {
  const meta = (name: string) => ({ name, namespace: NS });
  const svc = (name: string, port: number) => ({ name, namespace: NS, fqdn: serviceFqdn(name, NS), port, protocol: 'tcp' as const, ports: [{ name: 'tcp', port, targetPort: port, protocol: 'tcp' as const }], workloads: [`${name}-v1`] });
  const wl = (name: string, service: string, appPort: number, p: number[], extra: object = {}) => ({
    name, service, namespace: NS, labels: { app: service, version: 'v1' }, serviceAccount: service, spiffeId: spiffeId(TD, NS, service), appPort,
    sidecar: { inboundPort: p[0], outboundPort: p[1], adminPort: p[2] }, ...extra,
  });
  const vs = (host: string, port: number): Resource<'VirtualService'> => ({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: meta(host), spec: { hosts: [host], tcp: [{ match: [{ port }], route: [{ destination: { host, subset: 'v1', port: { number: port } } }] }] } });
  const dr = (host: string): Resource<'DestinationRule'> => ({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: meta(host), spec: { host, subsets: [{ name: 'v1', labels: { version: 'v1' } }] } });
  return {
    version: 1, meshName: 'bench-tcp', trustDomain: TD, namespace: NS,
    services: [svc('iperf', 5201), svc('echo', 9000), { name: 'client', namespace: NS, fqdn: serviceFqdn('client', NS), port: 80, protocol: 'http', workloads: ['client-v1'] }],
    workloads: [
      wl('client-v1', 'client', 1, o.client, { upstreams: [{ service: serviceFqdn('iperf', NS), port: 5201, localPort: o.upstreams[0] }, { service: serviceFqdn('echo', NS), port: 9000, localPort: o.upstreams[1] }] }),
      wl('iperf-v1', 'iperf', o.iperfPort, o.iperfSc),
      wl('echo-v1', 'echo', o.echoPort, o.echoSc),
    ],
    ingress: { name: 'istio-ingressgateway', port: o.ingress[0], adminPort: o.ingress[1], serviceAccount: 'istio-ingressgateway', spiffeId: spiffeId(TD, 'istio-system', 'istio-ingressgateway'), labels: { istio: 'ingressgateway' } },
    virtualServices: [vs('iperf', 5201), vs('echo', 9000)], destinationRules: [dr('iperf'), dr('echo')], gateways: [],
    peerAuthentications: [{ apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: meta('default'), spec: { mtls: { mode: 'STRICT' } } }],
    authorizationPolicies: [{ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: meta('from-client'), spec: { action: 'ALLOW', rules: [{ from: [{ source: { principals: [`${TD}/ns/${NS}/sa/client`] } }] }] } }],
    faults: [],
  };
}

interface Chain { name: string; iperf: number; echo: number; pids: () => number[] }

/**
 * One iperf3 run through a chain, pinned to the load CPU: MB/s received. The
 * server takes one test at a time: when the previous test's connections are
 * still closing through a busy chain, it answers "busy" and the run is
 * tried again shortly after.
 */
export async function iperf(port: number, seconds: number, streams: number): Promise<{ mbps: number; command: string }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await iperfOnce(port, seconds, streams);
    } catch (err) {
      if (attempt >= 20 || !/server is busy/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

function iperfOnce(port: number, seconds: number, streams: number): Promise<{ mbps: number; command: string }> {
  const args = ['-c', '127.0.0.1', '-p', String(port), '-t', String(seconds), '-P', String(streams), '-J'];
  const command = `${CPUS ? `taskset -c ${CPUS.load} ` : ''}iperf3 ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    const file = CPUS ? 'taskset' : 'iperf3';
    const argv = CPUS ? ['-c', CPUS.load, 'iperf3', ...args] : args;
    execFile(file, argv, { timeout: (seconds + 20) * 1000, maxBuffer: 16 << 20 }, (err, stdout) => {
      try {
        const j = JSON.parse(stdout) as { end?: { sum_received?: { bits_per_second: number } }; error?: string };
        if (j.error || !j.end?.sum_received) return reject(new Error(`iperf3 through port ${port}: ${j.error ?? err?.message}`));
        resolve({ mbps: j.end.sum_received.bits_per_second / 8 / 1e6, command });
      } catch {
        reject(new Error(`iperf3 through port ${port}: ${err?.message ?? stdout.slice(0, 200)}`));
      }
    });
  });
}

/** New connections per second through `port` (bench/tcp/connRate.ts on the load CPU). */
export async function connRate(port: number, seconds: number, concurrency: number): Promise<{ perSecond: number; p50Ms: number; p99Ms: number; errors: number }> {
  const child = spawnPinned(CPUS?.load, process.execPath, [path.join(__dirname, 'tcp', 'connRate.js'), JSON.stringify({ port, seconds, concurrency })], { stdio: ['ignore', 'pipe', 'inherit'] });
  return firstJsonLine(child, (seconds + 30) * 1000);
}

export async function benchTcp(o: { quick?: boolean } = {}): Promise<BenchResult> {
  if (!has('iperf3')) throw new Error('iperf3 is not installed (apt-get install -y iperf3); the TCP benchmark needs it');
  const secs = o.quick ? 2 : 5;
  const rounds = o.quick ? 1 : 3;
  const md: string[] = [];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-bench-tcp-'));
  const ca = createCa({ trustDomain: TD });
  const stops: Array<() => unknown> = [];
  md.push(`Load average at start (1/5/15 min): ${os.loadavg().map((x) => x.toFixed(2)).join(' / ')}. Pinning: ${CPUS ? `clients on CPU ${CPUS.load}; services, sidecars and nginx on CPU ${CPUS.proxies}` : 'none'}. ${secs} s per run; figures are the median of ${rounds} rounds that alternate the chains.`);
  try {
    phase('tcp: start iperf3 and the echo service');
    const iperfPort = await freePort();
    const iperfd = spawnPinned(CPUS?.proxies, 'iperf3', ['-s', '-p', String(iperfPort), '-B', '127.0.0.1'], { stdio: 'ignore' });
    stops.push(() => stopChild(iperfd));
    const echo = spawnPinned(CPUS?.proxies, process.execPath, [path.join(__dirname, 'tcp', 'echo.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
    stops.push(() => stopChild(echo));
    const { port: echoPort } = await firstJsonLine<{ port: number }>(echo);
    await new Promise((r) => setTimeout(r, 300));

    const ports = async (n: number) => Promise.all(Array.from({ length: n }, () => freePort()));
    const devmesh = async (transport: 'h2' | 'tls'): Promise<{ chain: DevmeshChain; upstreams: [number, number] }> => {
      phase(`tcp: start the devmesh chain (tcpTunnel: ${transport})`);
      const upstreams = (await ports(2)) as [number, number];
      const snap = tcpSnapshot({ iperfPort, echoPort, client: await ports(3), iperfSc: await ports(3), echoSc: await ports(3), ingress: await ports(2), upstreams });
      const chain = await startDevmeshChain(ca, snap, { printAccessLog: false, tcpTunnel: transport }, 'shared');
      stops.push(() => chain.stop());
      for (const pid of chain.pids()) pin(pid, CPUS?.proxies);
      return { chain, upstreams };
    };
    const h2 = await devmesh('h2');
    const tls = await devmesh('tls');
    const chains: Chain[] = [
      { name: 'direct', iperf: iperfPort, echo: echoPort, pids: () => [iperfd.pid!, echo.pid!] },
      { name: 'devmesh (h2: CONNECT stream on the pair\'s HTTP/2 session)', iperf: h2.upstreams[0], echo: h2.upstreams[1], pids: () => [iperfd.pid!, echo.pid!, ...h2.chain.pids()] },
      { name: 'devmesh (tls: a TLS connection per connection)', iperf: tls.upstreams[0], echo: tls.upstreams[1], pids: () => [iperfd.pid!, echo.pid!, ...tls.chain.pids()] },
    ];
    let nginxVersion = '';
    if (nginxStreamAvailable()) {
      phase('tcp: start the nginx stream pairs');
      const mk = async (servicePort: number, name: string): Promise<NginxChain> => {
        const n = await startNginxStreamChain(path.join(dir, name), { servicePort, frontPort: await freePort(), backPort: await freePort(), cpu: CPUS?.proxies, client: ca.issue(spiffeId(TD, NS, 'nginx-front')), server: ca.issue(spiffeId(TD, NS, 'nginx-back')) });
        stops.push(() => n.stop());
        return n;
      };
      const ni = await mk(iperfPort, 'nginx-iperf');
      const ne = await mk(echoPort, 'nginx-echo');
      nginxVersion = ni.version;
      chains.push({ name: 'nginx stream mTLS pair', iperf: ni.frontPort, echo: ne.frontPort, pids: () => [iperfd.pid!, echo.pid!, ni.front.pid!, ni.back.pid!, ne.front.pid!, ne.back.pid!] });
    } else md.push('nginx with libnginx-mod-stream is not installed: the nginx stream chain was skipped.');

    // Warm-up (JIT, sessions), not recorded.
    phase('tcp: warm-up');
    for (const c of chains) { await iperf(c.iperf, 1, 1); await connRate(c.echo, 1, 8); }

    let command = '';
    const tput: Record<string, Record<number, number[]>> = {};
    const cpu: Record<string, number[]> = {};
    for (let round = 0; round < rounds; round++) {
      for (const c of chains) {
        for (const streams of [1, 4]) {
          phase(`tcp: iperf3, ${streams} stream(s), round ${round + 1} of ${rounds}, ${c.name}`);
          const before = c.pids().map(cpuMsOf).reduce((a, b) => a + b, 0);
          const r = await iperf(c.iperf, secs, streams);
          const used = c.pids().map(cpuMsOf).reduce((a, b) => a + b, 0) - before;
          command ||= r.command;
          ((tput[c.name] ??= {})[streams] ??= []).push(r.mbps);
          if (streams === 1) (cpu[c.name] ??= []).push(used / (r.mbps * secs));
        }
      }
    }
    const nginxName = chains.find((c) => c.name.startsWith('nginx'))?.name;
    const mb = (name: string, s: number) => median(tput[name][s]);
    md.push('### TCP throughput (iperf3, client -> server)', '', `Command per figure: \`${command.replace(/-p \d+/, '-p PORT').replace(/-P \d+/, '-P N')}\`${nginxVersion ? `; nginx ${nginxVersion}` : ''}.`, '',
      table(['chain', 'MB/s, 1 stream', 'x direct', 'x nginx', 'MB/s, 4 streams', 'x direct', 'x nginx', 'CPU ms per MB (service + proxies)'],
        chains.map((c) => [c.name, fmt(mb(c.name, 1)), ratio(mb(c.name, 1), mb('direct', 1)), ratio(mb(c.name, 1), nginxName ? mb(nginxName, 1) : undefined),
          fmt(mb(c.name, 4)), ratio(mb(c.name, 4), mb('direct', 4)), ratio(mb(c.name, 4), nginxName ? mb(nginxName, 4) : undefined), fmt(median(cpu[c.name]), 2)])));

    const rate: Record<string, Array<{ perSecond: number; p50Ms: number; p99Ms: number; errors: number }>> = {};
    for (let round = 0; round < rounds; round++) {
      for (const c of chains) {
        phase(`tcp: new connections per second, round ${round + 1} of ${rounds}, ${c.name}`);
        (rate[c.name] ??= []).push(await connRate(c.echo, secs, 16));
      }
    }
    const pick = (name: string) => [...rate[name]].sort((a, b) => a.perSecond - b.perSecond)[Math.floor(rate[name].length / 2)];
    md.push('### New TCP connections per second (open, one line each way, close; 16 at a time)', '', 'Client: `bench/tcp/connRate.ts` (Node, pinned to the load CPU). Through devmesh every connection is routed, authorized and logged on both sidecars.', '',
      table(['chain', 'connections/s', 'x direct', 'x nginx', 'p50 ms', 'p99 ms', 'errors'],
        chains.map((c) => { const r = pick(c.name); return [c.name, fmt(r.perSecond), ratio(r.perSecond, pick('direct').perSecond), ratio(r.perSecond, nginxName ? pick(nginxName).perSecond : undefined), fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), String(r.errors)]; })));
  } finally {
    phase('tcp: stop');
    for (const s of stops.reverse()) { try { await s(); } catch { /* best effort */ } }
    rmSync(dir, { recursive: true, force: true });
  }
  return { name: 'tcp', rows: [], markdown: md.join('\n\n') };
}
