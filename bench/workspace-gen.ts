/**
 * A generated policy workspace of realistic shape: one Mesh with `services`
 * services (two versions each) and `files` files of `perFile` documents
 * (VirtualServices with header matches, weights, retries and timeouts, and
 * DestinationRules with subsets). Every document is valid, so the figures
 * measure the full rule set, not an early exit.
 */
export interface GeneratedWorkspace {
  files: Map<string, string>;
  documents: number;
}

export function generateWorkspace(files = 200, perFile = 10, services = 100): GeneratedWorkspace {
  const out = new Map<string, string>();
  const svc = (i: number) => `svc-${i % services}`;
  const mesh = [
    'apiVersion: devmesh.dev/v1alpha1', 'kind: Mesh', 'metadata: { name: generated }', 'spec:', '  services:',
    ...Array.from({ length: services }, (_, i) => [
      `    - name: svc-${i}`, '      port: 8080', '      workloads:',
      `        - { name: svc-${i}-v1, labels: { app: svc-${i}, version: v1 }, port: ${20000 + 2 * i} }`,
      `        - { name: svc-${i}-v2, labels: { app: svc-${i}, version: v2 }, port: ${20001 + 2 * i} }`,
    ].join('\n')),
  ].join('\n');
  out.set('/ws/mesh.yaml', mesh + '\n');
  let documents = 1;
  let vsCount = 0;
  for (let f = 0; f < files; f++) {
    const docs: string[] = [];
    for (let d = 0; d < perFile; d++) {
      const n = f * perFile + d;
      if (n < services) {
        docs.push(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: dr-${n} }
spec:
  host: ${svc(n)}
  trafficPolicy:
    connectionPool: { tcp: { maxConnections: 100 }, http: { http1MaxPendingRequests: 10 } }
    outlierDetection: { consecutive5xxErrors: 5, interval: 10s, baseEjectionTime: 30s }
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }`);
      } else {
        // Each VirtualService gets its own host name (a prefix of the service) to avoid duplicate-host findings:
        // hosts are spread over gateways, each serving its own domain, so the 2,000 documents stay valid.
        const i = vsCount++;
        docs.push(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: vs-${n} }
spec:
  hosts: [route-${i}.g${i % 10}.example.com]
  gateways: [gw-${i % 10}]
  http:
    - name: canary
      match:
        - headers: { x-canary: { exact: "true" } }
          uri: { prefix: /api/v2 }
      route:
        - destination: { host: ${svc(i)}, subset: v2 }
      retries: { attempts: 3, perTryTimeout: 2s, retryOn: "5xx,connect-failure" }
    - route:
        - destination: { host: ${svc(i)}, subset: v1 }
          weight: 90
        - destination: { host: ${svc(i)}, subset: v2 }
          weight: 10
      timeout: 5s`);
      }
      documents++;
    }
    out.set(`/ws/policies/file-${String(f).padStart(3, '0')}.yaml`, docs.join('\n---\n') + '\n');
  }
  const gateways = Array.from({ length: 10 }, (_, g) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: gw-${g} }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: ["*.g${g}.example.com"]`).join('\n---\n');
  out.set('/ws/gateways.yaml', gateways + '\n');
  documents += 10;
  return { files: out, documents };
}
