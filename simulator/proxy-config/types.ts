/**
 * The shape of a sidecar's effective configuration in Envoy's terms, as its
 * config dump serves it under `proxyConfig` (sidecar/proxyConfig.ts builds
 * it) and `devmesh proxy-config` reads it through the control API. Types
 * only, with no Node imports, so the API contract can name them.
 */
import type { HTTPMatchRequest } from '../policy/model';

/** The rule a route comes from (a VirtualService's `http[rule]`). */
export interface RuleOrigin {
  kind: string;
  namespace: string;
  name: string;
  rule: number;
}

/** What outlier detection knows of one host of a cluster (admin `/clusters`, the proxy config's endpoints). */
export interface HostOutlier {
  ejected: boolean;
  ejectedUntil?: string;
  ejectionReason?: string;
  timesEjected: number;
  consecutive5xx: number;
  consecutiveGatewayErrors: number;
}

export interface ProxyConfigDump {
  /** The workload, or the ingress's name. */
  proxy: string;
  version: number;
  listeners: ListenerConfig[];
  routes: RouteConfig[];
  clusters: ClusterConfig[];
  endpoints: EndpointConfig[];
  secrets: SecretConfig[];
}

export interface ListenerConfig {
  name: string;
  address: string;
  port: number;
  chains: Array<{ match: string; destination: string }>;
}

export interface RouteConfig {
  name: string;
  /** `requireTls`: Envoy's require_tls ALL (a Gateway server's httpsRedirect): every plain request gets 301 to https. */
  virtualHosts: Array<{ name: string; domains: string[]; routes: RouteEntry[]; requireTls?: boolean }>;
}

export interface RouteEntry {
  name: string;
  /** Envoy's path match as istioctl prints it: `/reviews*`, `/login`, `regex ...`, `/*`. */
  match: string;
  /** Header, method, query and source conditions beside the path (istioctl leaves them out of its table). */
  conditions?: HTTPMatchRequest;
  /** The rule it comes from. */
  origin?: RuleOrigin;
  /** Weighted clusters, a redirect or a direct response. */
  action: { clusters: Array<{ name: string; weight: number }> } | { redirect: true } | { directResponse: number };
}

export interface ClusterConfig {
  name: string;
  /** Service FQDN ('' for inbound and special clusters). */
  fqdn: string;
  port?: number;
  subset: string;
  direction: 'outbound' | 'inbound' | '';
  type: 'EDS' | 'STATIC';
  /** `namespace/name` of the DestinationRule(s) merged into the one in force. */
  destinationRule?: string[];
}

export interface EndpointConfig {
  cluster: string;
  /** Where a connection goes: the callee sidecar's inbound listener (outbound clusters), or the app (inbound). */
  address: string;
  workload: string;
  /** As this sidecar's config has it; the control plane knows the app's health (proxy-config endpoints adds it). */
  health: 'HEALTHY';
  outlier: HostOutlier;
}

export interface SecretConfig {
  name: string;
  /** Empty for a warming secret (istioctl knows a type from the secret's content, and there is none). */
  type: 'Cert Chain' | 'CA' | '';
  /** WARMING: an SDS secret the proxy asked for and never received (a credentialName naming no Secret). */
  status: 'ACTIVE' | 'WARMING';
  valid: boolean;
  serial: string;
  notAfter: string;
  notBefore: string;
  subjectAltName?: string;
}
