/**
 * What Envoy's HTTP connection manager does to a request's headers before
 * any filter sees it (conn_manager_utility.cc mutateRequestHeaders): it
 * generates x-request-id when absent, applies forward_client_cert_details to
 * x-forwarded-client-cert (SANITIZE at a sidecar's outbound listener, whose
 * downstream is the app in plaintext; SANITIZE_SET at a gateway from the
 * client certificate it verified), appends the client address to
 * x-forwarded-for where use_remote_address is on (the gateways), sets
 * x-forwarded-proto (the downstream connection's scheme where the client's
 * value is not trusted or absent) and x-forwarded-port; and the codec and
 * the connection manager leave the filters no connection-specific header
 * (connection, keep-alive, proxy-connection, transfer-encoding, upgrade but
 * on an upgrade, te but `trailers`). jwt_authn, ext_authz, RBAC and the
 * router (route match, hash policy) all read the result; the route's own
 * header operations come later, when the router forwards. The sidecar
 * (downstream.ts, upgrade.ts) and explain (walk.ts) both call it, so they
 * decide on the same headers.
 */
import type { ListenerClass, ProxyHeaderDefaults } from '../policy/defaults';
import { forwardedClientCert } from './security/xfcc';

/** What the connection and the proxy know about one request. */
export interface ConnectionFacts {
  listener: ListenerClass;
  /** The client's address (x-forwarded-for at the gateway). */
  sourceAddress?: string;
  /** The gateway's XFCC element for a client certificate it verified; undefined without one. */
  verifiedClientXfcc?: string;
  /** The listener's own port (x-forwarded-port). */
  localPort?: number;
  /** Whether the downstream connection is TLS (an HTTPS gateway listener, a peer's mTLS at the inbound): x-forwarded-proto https. */
  tls?: boolean;
  /** The x-request-id generated for a request that came without one ('' when proxyHeaders turn generation off). */
  generatedRequestId?: string;
}

/** The names this step may change: what the filters' view of the request takes over from the forwarded headers. */
const CONNECTION_MANAGER_HEADERS = ['x-request-id', 'x-forwarded-client-cert', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-port'] as const;

/** What no filter sees (Envoy's HTTP/1 codec and mutateRequestHeaders remove them; HTTP/2 forbids them); `upgrade` and `connection` stay on an upgrade. */
const CONNECTION_SPECIFIC = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'] as const;

type Headers = Record<string, string | string[] | number | undefined>;

/** Applies the connection manager's mutations to `headers` in place. */
export function mutateRequestHeaders(headers: Headers, proxyHeaders: ProxyHeaderDefaults, facts: ConnectionFacts): void {
  const id = headers['x-request-id'];
  if ((typeof id !== 'string' || id.length === 0) && facts.generatedRequestId) headers['x-request-id'] = facts.generatedRequestId;
  if (facts.listener === 'gateway') {
    // The gateway's mode (SANITIZE_SET unless gatewayTopology says otherwise) over what the client sent and the certificate the listener verified (MUTUAL, OPTIONAL_MUTUAL).
    const incoming = headers['x-forwarded-client-cert'];
    const xfcc = forwardedClientCert(proxyHeaders.forwardedClientCert.gateway, typeof incoming === 'string' ? incoming : undefined, facts.verifiedClientXfcc);
    if (xfcc === undefined) delete headers['x-forwarded-client-cert'];
    else headers['x-forwarded-client-cert'] = xfcc;
  } else if (facts.listener !== 'inbound') {
    // The app's connection to its sidecar is plaintext: Envoy's SANITIZE / SANITIZE_SET drop its XFCC.
    delete headers['x-forwarded-client-cert'];
  }
  if (facts.listener === 'gateway' && proxyHeaders.xForwardedForAtGateway && facts.sourceAddress) {
    const had = headers['x-forwarded-for'];
    const ip = facts.sourceAddress.replace(/^::ffff:/, '');
    headers['x-forwarded-for'] = typeof had === 'string' && had !== '' ? `${had}, ${ip}` : ip;
  }
  // conn_manager_utility.cc: with use_remote_address (the gateways) a client's x-forwarded-proto is kept only from a trusted
  // proxy (xff_num_trusted_hops, gatewayTopology.numTrustedProxies); a sidecar keeps what its downstream sent. Absent or
  // untrusted, it is the downstream connection's own scheme.
  const proto = headers['x-forwarded-proto'];
  const untrusted = facts.listener === 'gateway' && proxyHeaders.xForwardedForAtGateway && proxyHeaders.trustedProxiesAtGateway === 0;
  if (untrusted || typeof proto !== 'string' || proto === '') headers['x-forwarded-proto'] = facts.tls ? 'https' : 'http';
  if (proxyHeaders.xForwardedPort && headers['x-forwarded-port'] === undefined && facts.localPort) headers['x-forwarded-port'] = String(facts.localPort);
}

/**
 * The filters' view of the request (`ctx.downstream.headers`: pseudo-headers,
 * `host`, and each repeated header joined as Node gives it) takes the
 * connection manager's values from the forwarded headers it mutated.
 */
export function filtersSee(view: object, forwarded: Headers, o: { upgrade?: boolean } = {}): void {
  const v = view as Record<string, unknown>;
  for (const name of CONNECTION_SPECIFIC) if (!(o.upgrade && (name === 'connection' || name === 'upgrade'))) delete v[name];
  // `te: trailers` is the one value that crosses (gRPC needs it); any other is dropped.
  if (v.te !== undefined && String(v.te).toLowerCase() !== 'trailers') delete v.te;
  for (const name of CONNECTION_MANAGER_HEADERS) {
    const value = forwarded[name];
    if (value === undefined) delete v[name];
    else if (value !== v[name]) v[name] = Array.isArray(value) ? value.join(', ') : String(value);
  }
}
