/**
 * The files `devmesh init` writes, as text a person edits next: mesh.yaml
 * (what runs where, one commented workload per service) and one policy file
 * with a VirtualService and a DestinationRule for the first service, every
 * knob worth trying written out as a comment. Pure.
 */
import { Document, isMap, isScalar, isSeq, type Node, type YAMLMap } from 'yaml';
import { API_VERSIONS } from '../policy/kinds';
import type { FoundService } from './project';

/** A found service with its local port settled. */
export interface PlannedService extends FoundService {
  workloadPort: number;
}

export function meshText(name: string, services: readonly PlannedService[], origins: readonly string[]): string {
  const doc = new Document({
    apiVersion: API_VERSIONS.Mesh[0],
    kind: 'Mesh',
    metadata: { name },
    spec: {
      services: services.map((s) => ({
        name: s.name,
        port: s.port,
        ...(s.protocol === 'http' ? {} : { protocol: s.protocol }),
        workloads: [{
          name: s.name,
          labels: { app: s.name, version: 'v1' },
          port: s.workloadPort,
          ...(s.command ? { command: s.command } : {}),
          ...(s.cwd ? { cwd: s.cwd } : {}),
          ...(s.env ? { env: s.env } : {}),
          ...(s.image ? { image: s.image } : {}),
        }],
      })),
    },
  });
  doc.commentBefore = [
    ` What runs where, written by devmesh init${origins.length ? ` from ${origins.join(', ')}` : ''}.`,
    ' `devmesh up` starts each workload\'s command with PORT set to its port, puts a',
    ' sidecar in front of it and routes the calls between services with mTLS. A',
    ' workload without a command is one you run yourself (devmesh fronts its port).',
    ' Traffic policies are Istio YAML in policies/. Check everything with: devmesh validate',
  ].join('\n');
  const spec = doc.get('spec', true) as YAMLMap;
  keyOf(spec, 'services').commentBefore = [
    ' controlPort: 15000        # the control API and the dashboard on 127.0.0.1',
    ' ingress: { port: 15080 }  # the edge proxy: curl -x http://127.0.0.1:15080 http://<service>:<port>/',
  ].join('\n');
  services.forEach((s, i) => {
    const service = doc.getIn(['spec', 'services', i], true) as YAMLMap;
    service.commentBefore = ` from ${s.origin}`;
    valueOf(service, 'port').comment = s.protocol === 'http' ? ` callers use http://${s.name}:${s.port}` : ` ${s.name}:${s.port}, ${s.protocol === 'tcp' ? 'plain TCP' : 'gRPC'}`;
    const workload = doc.getIn(['spec', 'services', i, 'workloads', 0], true) as YAMLMap;
    for (const key of ['labels', 'command']) {
      const v = workload.get(key, true);
      if (isMap(v) || isSeq(v)) v.flow = true;
    }
    const port = keyOf(workload, 'port');
    if (s.command) {
      port.commentBefore = ` where it listens on 127.0.0.1 (given to it as PORT)`;
    } else if (s.image) {
      port.commentBefore = ` no command: it runs from its image as before (docker compose up -d ${s.name}); devmesh fronts this port`;
    } else {
      port.commentBefore = ` TODO: command to start ${s.name}, e.g. command: ["node", "server.js"] — or run it yourself on this port`;
    }
  });
  return doc.toString({ lineWidth: 0 });
}

function keyOf(map: YAMLMap, key: string): Node {
  const pair = map.items.find((p) => isScalar(p.key) && p.key.value === key);
  if (!pair || !isScalar(pair.key)) throw new Error(`no ${key} in the generated Mesh`);
  return pair.key;
}

function valueOf(map: YAMLMap, key: string): Node {
  const v = map.get(key, true);
  if (!isScalar(v)) throw new Error(`no ${key} in the generated Mesh`);
  return v;
}

/** The starter policies of one service: routing (HTTP and gRPC services) and its DestinationRule. */
export function policyText(s: PlannedService): string {
  const networking = API_VERSIONS.VirtualService[0];
  const routing = s.protocol === 'tcp' ? '' : `# Routing for ${s.name}, in Istio's own YAML: devmesh up applies it to the local
# sidecars (edits apply live) and devmesh export deploys it unchanged.
# A canary: add a workload with labels { app: ${s.name}, version: v2 } to mesh.yaml,
# a v2 subset below, and a second destination here with weights 90 / 10.
apiVersion: ${networking}
kind: VirtualService
metadata:
  name: ${s.name}
spec:
  hosts:
    - ${s.name}  # the Mesh service (or ${s.name}.default.svc.cluster.local)
  http:
    - name: default
      route:
        - destination:
            host: ${s.name}
            subset: v1         # defined in the DestinationRule below
      # timeout: 5s            # fail a call that takes longer (Istio's default: no timeout)
      # retries:               # Istio's default: 2 attempts on connect-failure, refused-stream, unavailable, cancelled, retriable-status-codes
      #   attempts: 3
      #   perTryTimeout: 2s
      #   retryOn: 5xx,connect-failure
      # fault:                 # fail on purpose, to see how the callers cope
      #   delay: { fixedDelay: 2s, percentage: { value: 50 } }
      #   abort: { httpStatus: 503, percentage: { value: 10 } }
---
`;
  return `${routing}# Which workloads of ${s.name} exist (subsets, by label) and how calls reach them.
apiVersion: ${networking}
kind: DestinationRule
metadata:
  name: ${s.name}
spec:
  host: ${s.name}
  subsets:
    - name: v1
      labels: { version: v1 }  # selects the workloads with this label in mesh.yaml
  # trafficPolicy:
  #   loadBalancer: { simple: ROUND_ROBIN }   # Istio's default is LEAST_REQUEST
  #   outlierDetection:                       # eject a workload that keeps failing
  #     consecutive5xxErrors: 5
  #     interval: 10s
  #     baseEjectionTime: 30s
  #   connectionPool:
  #     http: { http1MaxPendingRequests: 100 }
`;
}
