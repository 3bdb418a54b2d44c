/**
 * The request context and the filter shape shared by every filter.
 *
 * A `Handler` takes one request and eventually answers it through
 * `ctx.respond` or `ctx.fail`; a `Filter` wraps the next handler, so the
 * chain reads like Envoy's HTTP filters or undici's interceptors. Filters that
 * must see the response (retry, timeout, metrics) wrap `ctx.respond` /
 * `ctx.fail` before calling `next`, as an encoder filter would. No promise per
 * request: handlers are plain callbacks, which keeps the hot path lean.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { HeaderOperations } from '../policy/model';
import type { Endpoint } from '../protocol';
import type { ProxyError, ResponseFlag } from './errors';
import type { InboundPort, MeshTables } from './tables';
import type { RoutePlan } from './routing/plan';
import type { EffectivePolicy } from './routing/trafficPolicy';
import type { HopObservation } from './observation';
import type { DecisionNotes } from './decisions';
import type { RequestAuth } from './security/requestAuthentication';

/** A Gateway port the ingress serves, as requests that arrive there know it. */
export interface GatewayListenerRef {
  /** `namespace/name` of the Gateway. */
  gateway: string;
  port: number;
  scheme: 'http' | 'https';
  /** An Istio Gateway server port that terminates TLS: the VirtualServices bound to the Gateways with servers on this port route it. */
  istio?: boolean;
}

/** Who is calling, as the sidecar knows it. */
export interface Source {
  /** Calling workload (outbound: the sidecar's own workload; inbound: from the peer certificate). */
  workload?: string;
  labels: Record<string, string>;
  namespace?: string;
  /** SPIFFE id of the caller; undefined for plaintext or unauthenticated peers. */
  spiffeId?: string;
  /** sha256 (hex) of the peer certificate, for x-forwarded-client-cert. */
  certHash?: string;
  /** Inbound: whether the connection is TLS (false: plaintext). */
  tls?: boolean;
  address?: string;
  /**
   * At a gateway: the SPIFFE id of a client certificate its listener verified
   * (MUTUAL, ISTIO_MUTUAL), which AuthorizationPolicy reads as the source
   * principal there (a plain client has none). `spiffeId` stays the gateway's
   * own: it is the source of the gateway's outbound hop (metrics, mTLS).
   */
  clientPrincipal?: string;
  /** At a gateway: the server name the client's TLS ClientHello asked for, on a connection the gateway terminated (`connection.sni`). */
  sni?: string;
}

export interface RequestContext {
  /** The snapshot in force when this request arrived; a config swap never changes it mid-request. */
  readonly tables: MeshTables;
  /**
   * `headers`: the request as the filters match it — as received (pseudo-headers, `host`), with the connection manager's
   * x-request-id, x-forwarded-client-cert, x-forwarded-for and x-forwarded-port (connectionManager.ts) and what filters
   * before set (setRequestHeader), but not the route's own header operations, which apply to what is forwarded (`ctx.headers`).
   * `worker`: the Envoy worker thread its connection would be on (each has its own upstream pools; see connectionPool.ts).
   */
  /** `chunked`: an HTTP/1.1 body framed by transfer-encoding (the header itself is not in `headers`: no filter sees it, as in Envoy). */
  readonly downstream: { headers: IncomingHttpHeaders; body: Readable; httpVersion: string; worker?: number; chunked?: boolean };
  readonly startedAt: number;
  method: string;
  /** Path with query string, as it will be sent upstream. */
  path: string;
  /** Host as it will be sent upstream (`:authority` on HTTP/2). */
  authority: string;
  /** Request headers to send upstream: lowercase, no hop-by-hop, no pseudo-headers. */
  headers: OutgoingHttpHeaders;
  requestId: string;
  source: Source;
  /** Set by the route filter. */
  plan?: RoutePlan;
  /** Set by the endpoint filter: the picked workload and the DestinationRule policy in force for it. */
  endpoint?: Endpoint;
  policy?: EffectivePolicy;
  /** Set by the jwt filter: the end user a verified token names (request principal and claims). */
  auth?: RequestAuth;
  /** Set by retry: workloads already tried, which the endpoint pick avoids when it can (retryIgnorePreviousHosts). */
  avoidEndpoints?: ReadonlySet<string>;
  /** Inbound, set by the servicePort filter: the port of this workload the call is for. */
  inbound?: InboundPort;
  /** Set by the chaos filter: connect here (a toxic relay) instead of the endpoint's inbound port. */
  upstreamPort?: number;
  /** The request came in proxy form (`GET http://host/path`). */
  proxyForm: boolean;
  /**
   * The service host and port the app's connection was opened for (a CONNECT
   * tunnel, a local upstream port): the route table is that port's, whatever
   * the `:authority` says; the authority is still matched and sent as is.
   */
  destination?: { host: string; port: number };
  /** At the ingress: the Gateway API listener port it came to (its routes decide), with its scheme. */
  gatewayListener?: GatewayListenerRef;
  /** Header operations to apply to the response, innermost first. */
  responseHeaderOps: HeaderOperations[];
  flags: ResponseFlag[];
  /** Span and sizes noted by the trace and metrics filters (observation.ts). */
  observed?: HopObservation;
  /** What the filters decided (fault, mirrors, attempts, authz), read into decision records when the exchange ends (decisions.ts). */
  notes?: DecisionNotes;
  /** Answer with an upstream (or synthesized) response. */
  respond(status: number, headers: OutgoingHttpHeaders | IncomingHttpHeaders, body: Readable | string | null): void;
  /** Answer with a proxy-made error response. */
  fail(err: ProxyError): void;
  /** Cut the exchange off without an answer, as Envoy closes a connection no filter chain admits (downstream contexts only). */
  reset?(): void;
  /** Called once when the downstream goes away before the response finished. */
  onAbort(cb: () => void): void;
}

export type Handler = (ctx: RequestContext) => void;
export type Filter = (next: Handler) => Handler;

/** Composes filters so that the first in the list sees the request first. */
export function compose(filters: Filter[], terminal: Handler): Handler {
  return filters.reduceRight<Handler>((next, filter) => filter(next), terminal);
}

/**
 * Sets (or, with undefined, removes) a request header the way Envoy's filters
 * share one header map: what a filter (jwt, ext_authz) changes is what the
 * filters after it and the route read, and what is sent on.
 */
export function setRequestHeader(ctx: RequestContext, name: string, value: string | undefined): void {
  const downstream = ctx.downstream.headers as Record<string, string | string[] | undefined>;
  if (value === undefined) {
    delete ctx.headers[name];
    delete downstream[name];
  } else {
    ctx.headers[name] = value;
    downstream[name] = value;
  }
}
