/**
 * The application protocol of a service port, read the way Istio reads a
 * Kubernetes Service port (istio/istio pkg/config/kube/conversion.go
 * `ConvertProtocol` and pkg/config/protocol `Parse`): UDP first, then
 * `appProtocol` (with Kubernetes' `kubernetes.io/h2c|ws|wss`), then the port
 * name up to its first `-` (`grpc-web` as a whole), case-insensitively; an
 * unsupported name on a well-known port (25, 53, 3306, 27017) is TCP.
 * devmesh's own `protocol:` (lowercase) says it outright, like appProtocol.
 * What Istio would sniff (no declaration) devmesh takes as HTTP: an app
 * that answers HTTP is what sniffing finds.
 */
import type { Protocol } from './model';

/** The protocols a port may declare in devmesh's `protocol:` field. */
export const PROTOCOLS: readonly Protocol[] = ['http', 'http2', 'grpc', 'grpc-web', 'tcp', 'tls', 'https', 'mongo', 'redis', 'mysql', 'udp'];

/** Kubernetes' L4 protocol values, accepted on `ports[]` entries as a Service manifest writes them. */
export const KUBERNETES_L4 = ['TCP', 'UDP', 'SCTP'] as const;

/**
 * What devmesh's sidecars serve today: HTTP/1.1 and HTTP/2/gRPC per request,
 * and the L4 protocols per connection (TCP proxy, TLS passthrough by SNI);
 * every other protocol is carried and warned about.
 */
export const SIMULATED_PROTOCOLS: ReadonlySet<Protocol> = new Set(['http', 'http2', 'grpc', 'tcp', 'tls', 'https', 'mongo', 'redis', 'mysql']);

/**
 * How Istio treats a port (pkg/config/protocol `IsHTTP`, `IsTLS`, `IsTCP`):
 * `http` ports get http[] routes, `tls` ports (https, tls) tls[] routes by
 * SNI, `tcp` ports (tcp, mongo, redis, mysql) tcp[] routes; UDP is not proxied.
 * The VirtualService proto: "TCP routes will be applied to any port that is
 * not a HTTP or TLS port"; "TLS routes will be applied to platform service
 * ports named 'https-*', 'tls-*'".
 */
export type ProtocolClass = 'http' | 'tls' | 'tcp' | 'udp';

export function protocolClass(p: Protocol): ProtocolClass {
  switch (p) {
    case 'http':
    case 'http2':
    case 'grpc':
    case 'grpc-web':
      return 'http';
    case 'https':
    case 'tls':
      return 'tls';
    case 'udp':
      return 'udp';
    default:
      return 'tcp';
  }
}

const WELL_KNOWN_TCP_PORTS = new Set([25, 53, 3306, 27017]);

export interface PortDeclaration {
  name?: string;
  port?: number;
  protocol?: string;
  appProtocol?: string;
}

export interface ResolvedProtocol {
  protocol: Protocol;
  /** false when nothing declared it: Istio would sniff the traffic (and istioctl analyze says IST0118). */
  declared: boolean;
}

export function portProtocol(p: PortDeclaration): ResolvedProtocol {
  if (p.protocol === 'UDP') return { protocol: 'udp', declared: true };
  if (p.appProtocol) {
    switch (p.appProtocol) {
      case 'kubernetes.io/h2c': return { protocol: 'http2', declared: true };
      case 'kubernetes.io/ws': return { protocol: 'http', declared: true };
      case 'kubernetes.io/wss': return { protocol: 'https', declared: true };
    }
    return fromName(p.appProtocol, p.port);
  }
  if (p.protocol && (PROTOCOLS as readonly string[]).includes(p.protocol)) return { protocol: p.protocol as Protocol, declared: true };
  return fromName(p.name ?? '', p.port);
}

function fromName(name: string, port: number | undefined): ResolvedProtocol {
  if (name.toLowerCase().startsWith('grpc-web')) return { protocol: 'grpc-web', declared: true };
  const dash = name.indexOf('-');
  const parsed = parse(dash >= 0 ? name.slice(0, dash) : name);
  if (parsed) return { protocol: parsed, declared: true };
  if (port !== undefined && WELL_KNOWN_TCP_PORTS.has(port)) return { protocol: 'tcp', declared: true };
  return { protocol: 'http', declared: false };
}

/** Istio's protocol.Parse, for the names devmesh knows. */
function parse(s: string): Protocol | undefined {
  const p = s.toLowerCase();
  if (p === 'http_proxy') return 'http';
  return (PROTOCOLS as readonly string[]).includes(p) ? (p as Protocol) : undefined;
}
