/**
 * `devmesh explain --from <workload|ingress> METHOD URL [-H 'name: value'] [--cookie k=v]`:
 * why a request would go where it goes, offline — the Mesh and its policies
 * read as `devmesh up` reads them, then the static walk (explain/walk.ts) over
 * the snapshot `up` would push. `--trace <id>` asks the running mesh what
 * its sidecars decided for one request and sets the walk beside it.
 *
 * Exit status: 0 when the request would be answered, 1 when the mesh would
 * refuse it (or, with --trace, when a sidecar decided what the walk does not
 * predict), 2 for a usage error or policies with errors.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { MeshSnapshot } from '../protocol';
import type { ExplainOptions } from '../explain/walk';

interface Opts {
  file: string;
  from?: string;
  header: string[];
  cookie: string[];
  format: string;
  proxyForm?: boolean;
  gateway?: string;
  appStatus?: string;
  appGrpcStatus?: string;
  appDelay?: string;
  extAuthz?: string;
  inFlight?: string;
  ejected: string[];
  trace?: string;
  sni?: string;
  clientCert?: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function register(program: Command, setExit: (code: number) => void): void {
  program
    .command('explain')
    .description('explain which rules, subsets, endpoints, retries, faults and policies decide a request (offline), or what the sidecars decided for a traced one')
    .argument('[method]', 'HTTP method (GET, POST, ...), grpc for a gRPC call, tcp or tls for a connection')
    .argument('[url]', 'http://host[:port]/path as the caller writes it; for grpc, host:port/package.Service/Method; for tcp and tls, host:port')
    .option('-f, --file <mesh.yaml>', 'the Mesh file', 'mesh.yaml')
    .option('--from <workload>', 'the calling workload, or "ingress" for a client outside the mesh')
    .option('-H, --header <header>', "a request header, 'name: value' (repeatable)", collect, [])
    .option('--cookie <cookie>', 'a cookie, name=value (repeatable)', collect, [])
    .option('--proxy-form', 'at the ingress: the request comes in proxy form (curl -x), routed as inside the mesh, not by Gateways')
    .option('--gateway <name[:port]>', 'at the ingress: the Gateway API Gateway (name, namespace/name; :port when it has several) the request comes in on')
    .option('--app-status <code>', 'assume the app answers this status (explain then predicts retries)')
    .option('--app-grpc-status <code>', 'grpc: assume the app answers this gRPC status, a number or a name such as UNAVAILABLE (explain then predicts retries on unavailable, cancelled, ...)')
    .option('--app-delay <duration>', 'assume the app takes this long to answer, e.g. 2s (explain then predicts per-try and route timeouts)')
    .option('--sni <name>', 'tls: the server name the app\'s ClientHello sends (tls[] rules route on it)')
    .option('--client-cert <file.pem>', 'from the ingress: the client certificate (PEM) the client presents to a Gateway server that terminates TLS (MUTUAL, OPTIONAL_MUTUAL, ISTIO_MUTUAL); explain checks it against the server\'s CA and shows the x-forwarded-client-cert the ingress sets')
    .option('--in-flight <n>', 'assume the caller already has n requests in flight to the destination (predicts connectionPool overflow, 503 UO)')
    .option('--ejected <workload>', 'assume outlier detection saw this workload fail past its threshold: ejected from the destination\'s clusters that set outlierDetection, up to maxEjectionPercent (repeatable, in the order they failed)', collect, [])
    .option('--ext-authz <allow|deny>', 'assume an external authorizer (AuthorizationPolicy CUSTOM) answers this')
    .option('--trace <traceId>', 'with a running mesh: what the sidecars decided for this traced request (or TCP connection: its id, the conn shown by devmesh logs), beside the walk')
    .option('--format <format>', 'text or json', 'text')
    .addHelpText('after', `
Exit status: 0 when the request would be answered, 1 when the mesh would refuse it
(with --trace: when a sidecar decided something the walk does not predict), 2 for a usage error.

Examples:
  devmesh explain --from productpage-v1 GET http://reviews:9080/reviews/0 -H 'end-user: jason'
  devmesh explain --from ingress GET http://bookinfo.example.com/productpage --cookie user=jason
  devmesh explain --from ingress --gateway bookinfo-gateway GET http://localhost/productpage
  devmesh explain --from productpage-v1 GET http://reviews:9080/reviews/0 --app-delay 3s
  devmesh explain --from productpage-v1 grpc details:9080/bookinfo.details.v1.Details/GetDetails -H 'grpc-timeout: 3S'
  devmesh explain --from ratings-v1 tcp redis:6379
  devmesh explain --from sleep tls my-nginx:443 --sni nginx.example.com
  devmesh explain --from sleep tls edition.cnn.com:443 --sni edition.cnn.com   (on through the egress gateway)
  devmesh explain --from ingress tls tcp.example.com:9443 --client-cert client.pem
  devmesh explain --from ingress GET https://bookinfo.example.com/productpage --client-cert client.pem
  devmesh explain --trace 4bf92f3577b34da6a3ce929d0e0e4736 -f examples/bookinfo/mesh.yaml`)
    .action(async (method: string | undefined, url: string | undefined, opts: Opts) => {
      setExit(await explain(method, url, opts));
    });
}

export function usage(message: string): number {
  process.stderr.write(`devmesh explain: ${message}\n`);
  return 2;
}

async function explain(method: string | undefined, url: string | undefined, o: Opts): Promise<number> {
  if (o.format !== 'text' && o.format !== 'json') return usage(`unknown --format "${o.format}" (use text or json)`);
  const headers: Record<string, string> = {};
  for (const h of o.header) {
    const colon = h.indexOf(':');
    if (colon <= 0) return usage(`-H '${h}': write a header as 'name: value'`);
    headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
  }
  if (o.cookie.length) {
    for (const c of o.cookie) if (!/^[^=;\s]+=[^;]*$/.test(c)) return usage(`--cookie '${c}': write a cookie as name=value`);
    headers.cookie = [headers.cookie, ...o.cookie].filter(Boolean).join('; ');
  }
  if (o.trace) {
    // A TCP connection's id (16 hex digits, `conn <id>` in devmesh logs): its access-log entries, not a trace.
    if (/^[0-9a-f]{16}$/.test(o.trace)) return (await import('./explainConnectionTrace')).explainConnectionTrace(o.trace, o.file, o.format);
    // The request of each hop is in the trace; headers are not, so -H and --cookie give the ones its rules read.
    const { explainTrace } = await import('./explainTrace');
    return explainTrace(o.trace, o.file, o.format, headers);
  }
  if (!o.from) return usage('--from <workload|ingress> is required (which sidecar the request leaves from)');
  if (!method || !url) return usage('give the request as METHOD URL, e.g. GET http://reviews:9080/reviews/0');
  if (!/^[A-Za-z]+$/.test(method)) return usage(`"${method}" is not an HTTP method`);
  const l4 = method.toLowerCase();
  if (l4 === 'tcp' || l4 === 'tls') return explainL4(l4, url, o);
  if (o.sni !== undefined) return usage('--sni is for a TLS connection: devmesh explain --from W tls host:port --sni NAME');
  if (method.toLowerCase() === 'grpc') {
    const { grpcCall, grpcHeaders } = await import('../explain/grpcCall');
    const call = grpcCall(url);
    if ('error' in call) return usage(call.error);
    [method, url] = ['POST', call.url];
    // What grpc-js sends with every call: the sidecars decide on these as on any header.
    Object.assign(headers, grpcHeaders(headers));
  }
  const appStatus = o.appStatus === undefined ? undefined : Number(o.appStatus);
  if (appStatus !== undefined && !(Number.isInteger(appStatus) && appStatus >= 100 && appStatus <= 599)) return usage(`--app-status ${o.appStatus}: a status code from 100 to 599`);

  let appGrpcStatus: number | undefined;
  if (o.appGrpcStatus !== undefined) {
    if (l4 !== 'grpc') return usage(`--app-grpc-status ${o.appGrpcStatus}: for a gRPC call (devmesh explain --from W grpc host:port/pkg.Service/Method)`);
    const { assumedGrpcStatus } = await import('../explain/grpcCall');
    appGrpcStatus = assumedGrpcStatus(o.appGrpcStatus);
    if (appGrpcStatus === undefined) return usage(`--app-grpc-status ${o.appGrpcStatus}: a gRPC status, 0 to 16 or its name (OK, UNAVAILABLE, ...)`);
  }

  const { parseDuration } = await import('../policy/duration');
  const appDelayMs = o.appDelay === undefined ? undefined : parseDuration(o.appDelay);
  if (o.appDelay !== undefined && appDelayMs === undefined) return usage(`--app-delay ${o.appDelay}: a duration such as 300ms or 2s`);

  const inFlight = o.inFlight === undefined ? undefined : Number(o.inFlight);
  if (inFlight !== undefined && !(Number.isInteger(inFlight) && inFlight >= 0)) return usage(`--in-flight ${o.inFlight}: a number of requests, 0 or more`);
  const extAuthz = o.extAuthz;
  if (extAuthz !== undefined && extAuthz !== 'allow' && extAuthz !== 'deny') return usage(`--ext-authz ${extAuthz}: allow or deny`);

  const clientCert = readClientCert(o);
  if (typeof clientCert === 'number') return clientCert;
  if (clientCert !== undefined && !/^https:\/\//i.test(url)) return usage(`--client-cert: a client certificate is presented to a Gateway server that terminates TLS: give an https:// URL (--from ingress)`);
  const loaded = await snapshotOf(o.file);
  if ('errors' in loaded) return loaded.errors;
  const { snapshot, locate, listenerCertificates } = loaded;
  const { explainRequest, ExplainUsageError } = await import('../explain/walk');
  const { verifyRequestTokens } = await import('../explain/tokens');
  const { formatExplain } = await import('../explain/format');
  try {
    const request: import('../explain/result').ExplainRequest = { from: o.from, method: method.toUpperCase(), url, headers, proxyForm: o.proxyForm, gateway: o.gateway, appStatus, ...(appGrpcStatus !== undefined ? { appGrpcStatus } : {}), appDelayMs, ...(inFlight ? { inFlight } : {}), ...(o.ejected.length ? { ejected: o.ejected } : {}), ...(extAuthz ? { extAuthz } : {}), ...(clientCert !== undefined ? { clientCert } : {}) };
    // The request's JWTs are verified first, by the sidecars' own verifier with the policies' keys.
    const tokens = await verifyRequestTokens(snapshot, request);
    const result = explainRequest(snapshot, request, { locate, tokens, listenerCertificates });
    process.stdout.write(o.format === 'json' ? JSON.stringify(result, null, 2) + '\n' : formatExplain(result));
    return result.answered ? 0 : 1;
  } catch (e) {
    if (e instanceof ExplainUsageError) return usage(e.message);
    throw e;
  }
}

/** `explain --from W tcp host:port` / `tls host:port --sni NAME`: the walk of one connection (explain/walkL4.ts). */
async function explainL4(protocol: 'tcp' | 'tls', target: string, o: Opts): Promise<number> {
  if (o.header.length || o.cookie.length || o.appStatus !== undefined || o.appGrpcStatus !== undefined || o.appDelay !== undefined || o.proxyForm || o.gateway !== undefined) {
    return usage(`${protocol} ${target}: a connection has no headers, cookies or app answer to assume; -H, --cookie, --app-status, --app-grpc-status, --app-delay, --proxy-form and --gateway are for HTTP`);
  }
  if (protocol === 'tcp' && o.sni !== undefined) return usage('--sni is for a TLS connection (tls host:port --sni NAME)');
  const extAuthz = o.extAuthz;
  if (extAuthz !== undefined && extAuthz !== 'allow' && extAuthz !== 'deny') return usage(`--ext-authz ${extAuthz}: allow or deny`);
  const clientCert = readClientCert(o);
  if (typeof clientCert === 'number') return clientCert;
  const loaded = await snapshotOf(o.file);
  if ('errors' in loaded) return loaded.errors;
  const { explainConnection } = await import('../explain/walkL4');
  const { ExplainUsageError } = await import('../explain/walk');
  const { formatConnection } = await import('../explain/formatL4');
  try {
    const result = explainConnection(loaded.snapshot, { from: o.from!, protocol, target, ...(o.sni !== undefined ? { sni: o.sni } : {}), ...(clientCert !== undefined ? { clientCert } : {}), ...(extAuthz ? { extAuthz } : {}) }, { locate: loaded.locate, listenerCertificates: loaded.listenerCertificates });
    process.stdout.write(o.format === 'json' ? JSON.stringify(result, null, 2) + '\n' : formatConnection(result));
    return result.answered ? 0 : 1;
  } catch (e) {
    if (e instanceof ExplainUsageError) return usage(e.message);
    throw e;
  }
}

export { grpcCall } from '../explain/grpcCall';

/** The PEM of `--client-cert`, or the exit status of a usage error. */
function readClientCert(o: Opts): string | number | undefined {
  if (o.clientCert === undefined) return undefined;
  if (o.from !== 'ingress') return usage(`--client-cert: a client certificate is what a client of the ingress presents (--from ingress); between sidecars each workload's own is used`);
  try {
    return readFileSync(o.clientCert, 'utf8');
  } catch (e) {
    return usage(`--client-cert ${o.clientCert}: ${(e as Error).message}`);
  }
}

/**
 * The snapshot `devmesh up` would push for the Mesh file, with no ports
 * assigned (ports do not change a decision), and where each resource is
 * written; or, when the policies have errors, the exit status after listing them.
 */
export async function snapshotOf(file: string): Promise<{ snapshot: MeshSnapshot; locate: ExplainOptions['locate']; listenerCertificates: ExplainOptions['listenerCertificates'] } | { errors: number }> {
  const { IncrementalMeshLoader, hasErrors } = await import('../control/load');
  const { formatDiagnostic } = await import('../diagnostics-format');
  const ws = await new IncrementalMeshLoader(file).load();
  if (hasErrors(ws.diagnostics)) {
    for (const d of ws.diagnostics.filter((x) => x.severity === 'error')) process.stderr.write(`${formatDiagnostic(d)}\n`);
    return { errors: usage(`the policies have errors (fix them first; devmesh validate lists them all)`) };
  }
  const { explainSnapshot } = await import('../explain/snapshot');
  const snapshot = explainSnapshot(ws.mesh, ws.resources, ws.gatewayApi.secrets);
  const { servedCertificates } = await import('../explain/listenerCertificates');
  return { snapshot, locate: (ref, path) => ws.policyPosition(ref, path), listenerCertificates: servedCertificates(ws.gatewayApi, ws.rootDir) };
}
