/**
 * Which API routes a service port for one caller, when a VirtualService and
 * Gateway API routes both name it. Istio turns each HTTPRoute into a
 * VirtualService of its own and a sidecar keeps, for one host, the first
 * VirtualService in its list (pilot httproute.go: "duplicate domain from
 * virtual service"); the list puts Gateway API routes of the caller's own
 * namespace first (virtualservice.go SelectVirtualServices, "consumer
 * override"), then every VirtualService by creation time, name and namespace
 * (sortMergedVirtualServicesByCreationTime; the route's by the name pilot
 * gives its VirtualService, age.ts compareVirtualServiceToRoute). So: the Gateway API routes win
 * for callers in their namespace; elsewhere the older of the two wins. The
 * loser is kept as `ignored`, which config dumps and `devmesh validate`
 * report. Pure.
 */
import type { ServiceInfo, ServicePortInfo } from '../../protocol';
import type { CompiledGatewayApiRoute } from './gatewayApi/attach';
import type { GatewayApiEntry } from './gatewayApi/compile';
import { compareAge, compareVirtualServiceToRoute } from '../../policy/gateway-api/age';
import type { CompiledRule, RouteSource, RouteTable } from '../tables';

export function routeSource(
  service: ServiceInfo,
  port: ServicePortInfo,
  virtualService: RouteTable | undefined,
  gatewayApi: { routes: CompiledGatewayApiRoute[]; entries: GatewayApiEntry[] } | undefined,
  callerNamespace: string,
  virtualServiceAge?: { created?: string; namespace: string; name: string },
): RouteTable {
  if (!gatewayApi) return virtualService ?? { service, port, rules: [], tcp: [], tls: [] };
  const api = gatewayApi.routes.some((r) => r.kind === 'HTTPRoute') ? 'HTTPRoute' : 'GRPCRoute';
  const source: RouteSource = { api, resources: gatewayApi.routes.map((r) => ({ kind: r.kind, namespace: r.status.namespace, name: r.status.name })) };
  const rules: CompiledRule[] = gatewayApi.entries;
  // Gateway API routes here are HTTP and gRPC; TCPRoute and TLSRoute are not read.
  const table: RouteTable = { service, port, source, rules, tcp: [], tls: [] };
  if (!virtualService) return table;
  const inCallerNamespace = gatewayApi.routes.every((r) => r.status.namespace === callerNamespace);
  const vsRef = virtualService.source!.resources[0];
  const oldestRoute = [...gatewayApi.routes].sort((a, b) => compareAge(a.age, b.age))[0].age;
  const vsAge = virtualServiceAge ?? { namespace: vsRef.namespace, name: vsRef.name };
  if (inCallerNamespace || compareVirtualServiceToRoute(vsAge, oldestRoute) > 0) return { ...table, ignored: virtualService.source };
  return { ...virtualService, ignored: source };
}
