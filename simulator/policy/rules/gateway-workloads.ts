import { clusterWorkloads, selects } from '../cluster-workloads';
import type { DocumentRule } from './rule';
import { arr, obj, strings } from '../plain';

/**
 * A Gateway's selector must match a gateway workload on the cluster (IST0101),
 * and each server port must be one a Service in front of those workloads
 * exposes (IST0162). Locally devmesh's one ingress serves every Gateway, so
 * these are about deploying: Istio's default ingress gateway (`istio:
 * ingressgateway` in istio-system, ports 80 and 443) counts, as do the pods
 * and Deployments of the workspace's Kubernetes manifests and the Mesh's
 * workloads.
 */
export const gatewayWorkloadRule: DocumentRule<'Gateway'> = {
  codes: ['no-gateway-workload', 'gateway-port'],
  kinds: ['Gateway'],
  facts: (index) => clusterWorkloads(index).facts,
  check(gw, index, report) {
    const spec = obj(gw.value.spec);
    const selector = strings(spec.selector);
    const shown = Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(',');
    const matching = clusterWorkloads(index).all.filter((w) => selects(selector, w.labels));
    if (matching.length === 0) {
      report(gw, spec.selector ? ['spec', 'selector'] : ['kind'], 'no-gateway-workload',
        `no gateway workload matches selector ${shown} (IST0101): on a cluster nothing would serve this Gateway (locally devmesh's ingress serves it whatever its selector); use "istio: ingressgateway" for Istio's ingress gateway, or the labels of your gateway's pods`,
        { part: 'key' });
      return;
    }
    const exposed = new Set(matching.flatMap((w) => [...w.exposed]));
    arr(spec.servers).forEach((server, i) => {
      const port = obj(obj(server).port).number;
      if (typeof port !== 'number' || exposed.has(port)) return;
      const shownPorts = [...exposed].sort((a, b) => a - b).join(', ');
      report(gw, ['spec', 'servers', i, 'port', 'number'], 'gateway-port',
        `port ${port} is not exposed by any Service in front of the gateway workloads this Gateway selects (${matching.map((w) => w.title).join(', ')}) (IST0162): ${shownPorts ? `they expose ${shownPorts}` : 'no Service selects them'}; use one of those, or add the port to the gateway's Service`);
    });
  },
};
