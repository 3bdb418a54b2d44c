/** ServiceEntry, WorkloadEntry and Sidecar in validation: hosts they add are destinations, and what Istio refuses is an error where it is written. */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { checkBeside, codes } from './fixtures';

const MESH = `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: shop }
spec:
  outboundTrafficPolicy: { mode: REGISTRY_ONLY }
  services:
    - name: productpage
      port: 9080
      workloads: [{ name: productpage-v1, port: 9180 }]
`;

const check = (policy: string) => checkBeside(MESH, policy);

const ENTRY = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: payments }
spec:
  hosts: [api.payments.example]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: 443, name: https, protocol: HTTPS }, { number: 80, name: http, protocol: HTTP, targetPort: 8080 }]
  endpoints:
    - { address: 127.0.0.1, ports: { https: 9443, http: 9080 }, labels: { version: v1 } }
  exportTo: ["."]
`;

describe('egress resources in validation', () => {
  it('accepts Istio\'s egress resources as written, with the Mesh outboundTrafficPolicy', () => {
    const ds = check(`${ENTRY}---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: vm-1 }
spec: { address: 127.0.0.1, labels: { app: legacy }, ports: { http: 9099 }, serviceAccount: legacy }
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default }
spec:
  egress: [{ hosts: ["./*", "istio-system/*", "~/api.blocked.example"] }]
  outboundTrafficPolicy: { mode: ALLOW_ANY }
`);
    assert.deepEqual(ds.map((d) => `${d.code}: ${d.message}`), []);
  });

  it('knows a ServiceEntry host as a destination (IST0101 otherwise), and its DestinationRule subsets', () => {
    const ds = check(`${ENTRY}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: payments }
spec:
  host: api.payments.example
  subsets: [{ name: v1, labels: { version: v1 } }]
  trafficPolicy: { tls: { mode: SIMPLE, caCertificates: ca.pem, sni: api.payments.example, subjectAltNames: [api.payments.example] } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: payments }
spec:
  hosts: [api.payments.example]
  http:
    - route:
        - destination: { host: api.payments.example, subset: v1, port: { number: 80 } }
        - destination: { host: api.payments.example, subset: v9, port: { number: 80 } }
        - destination: { host: api.unknown.example }
`);
    assert.deepEqual(codes(ds), ['unknown-subset@29', 'unknown-host@30']);
    assert.match(ds[1].message, /"api\.unknown\.example" is not a service of the Mesh.* or define it with a ServiceEntry/);
  });

  it('refuses STATIC without endpoints and endpoint ports and addresses Istio cannot use; notes an entry without ports', () => {
    const ds = check(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: no-ports }
spec:
  hosts: [a.example]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: static-empty }
spec:
  hosts: [b.example]
  ports: [{ number: 80, name: http }]
  resolution: STATIC
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: bad-endpoints }
spec:
  hosts: ["*.c.example"]
  ports: [{ number: 80, name: http }]
  resolution: STATIC
  endpoints:
    - address: c.example
      ports: { grpc: 9000 }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: none-with-endpoints }
spec:
  hosts: ["*.d.example"]
  ports: [{ number: 80, name: http }]
  resolution: NONE
  endpoints: [{ address: 127.0.0.1 }]
`);
    assert.deepEqual(codes(ds), ['service-entry-invalid@4', 'service-entry-invalid@14', 'service-entry-invalid@24', 'service-entry-invalid@25', 'service-entry-invalid@34']);
    assert.match(ds[0].message, /no ports, so no sidecar routes to it/);
    assert.equal(ds[0].severity, 'info');
    assert.match(ds[1].message, /STATIC needs endpoints/);
    assert.match(ds[2].message, /"c\.example" is not an IP address/);
    assert.match(ds[3].message, /endpoint port "grpc" is not a port of this ServiceEntry \(http\)/);
    assert.match(ds[4].message, /resolution NONE takes no endpoints/);
  });

  it('refuses what Istio\'s ValidateServiceEntry refuses: a "*" host, an address that is no IP or CIDR, CIDRs with DNS, repeated ports, several hosts on a TCP port', () => {
    const ds = check(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: db }
spec:
  hosts: [a.example, b.example]
  addresses: [10.0.0.0/24, db.example, 10.0.0.1/40]
  resolution: DNS
  ports:
    - { number: 5432, name: tcp, protocol: TCP }
    - { number: 5432, name: tcp, protocol: TCP }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: everything }
spec:
  hosts: ["*"]
  ports: [{ number: 80, name: http, protocol: HTTP }]
  resolution: NONE
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: fine }
spec:
  hosts: [c.example, d.example]
  addresses: [10.1.0.0/16, 10.2.0.7, "2001:db8::/32"]
  ports: [{ number: 5432, name: tcp, protocol: TCP }, { number: 443, name: tls, protocol: TLS }]
  resolution: NONE
`);
    assert.deepEqual(codes(ds), ['service-entry-invalid@6', 'service-entry-invalid@6', 'service-entry-invalid@7', 'service-entry-invalid@9', 'service-entry-invalid@10', 'service-entry-invalid@10', 'service-entry-invalid@16']);
    const messages = ds.map((d) => d.message).join('\n');
    assert.match(messages, /address "db\.example" is not an IP address or a CIDR block/);
    assert.match(messages, /address "10\.0\.0\.1\/40" is not an IP address or a CIDR block/);
    assert.match(messages, /CIDR addresses are allowed only for NONE\/STATIC resolution types/);
    assert.match(messages, /multiple hosts provided with non-HTTP, non-TLS ports/);
    assert.match(messages, /service entry port 5432 already defined/);
    assert.match(messages, /service entry port name "tcp" already defined/);
    assert.match(messages, /full wildcard "\*"/);
    assert.ok(ds.every((d) => d.severity === 'error'));
  });

  it('checks the fields: a bad resolution, an outbound mode, a Sidecar host without a namespace', () => {
    const ds = check(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: e }
spec:
  hosts: [e.example]
  ports: [{ number: 80, name: http }]
  resolution: DYNAMIC
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: s }
spec:
  egress: [{ hosts: ["api.example.com"] }]
  outboundTrafficPolicy: { mode: BLOCK }
`);
    assert.deepEqual(codes(ds), ['bad-enum@7', 'bad-value@13', 'bad-enum@14']);
    assert.match(ds[1].message, /namespace\/dnsName: "\.\/\*"/);
  });
});
