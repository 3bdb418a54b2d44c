import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findings } from './helpers';

const CODES = ['no-gateway-workload', 'gateway-port'];

const gateway = (selector: string, ports: number[]) => `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: shop }
spec:
  selector: ${selector}
  servers:
${ports.map((p) => `    - port: { number: ${p}, name: http-${p}, protocol: HTTP }\n      hosts: ["*"]`).join('\n')}
`;

const CUSTOM = `apiVersion: v1
kind: Pod
metadata: { name: edge-1, labels: { app: edge } }
spec:
  containers: [{ name: istio-proxy }]
---
apiVersion: v1
kind: Service
metadata: { name: edge }
spec:
  selector: { app: edge }
  ports:
    - { name: http2, port: 80, targetPort: 8003 }
`;

describe('the gateway workloads of a Gateway', () => {
  it('include Istio\'s ingress gateway, on ports 80 and 443', () => {
    assert.deepEqual(findings({ '/gw.yaml': gateway('{ istio: ingressgateway }', [80, 443, 8080]) }, ...CODES), []);
    const [f] = findings({ '/gw.yaml': gateway('{ istio: ingressgateway }', [8004]) }, ...CODES);
    assert.equal(f.code, 'gateway-port');
    assert.match(f.message, /port 8004 is not exposed .*Istio's ingress gateway .*IST0162/);
  });

  it('must exist for the selector (IST0101), which devmesh\'s ingress ignores locally', () => {
    const [f] = findings({ '/gw.yaml': gateway('{ istio: ingresstypo }', [80]) }, ...CODES);
    assert.deepEqual([f.code, f.severity, f.text], ['no-gateway-workload', 'warning', 'selector']);
    assert.match(f.message, /no gateway workload matches selector istio=ingresstypo \(IST0101\)/);
  });

  it('are found among the pods of the workspace, with the ports of the Services that select them', () => {
    assert.deepEqual(findings({ '/gw.yaml': gateway('{ app: edge }', [80, 8003]), '/k8s.yaml': CUSTOM }, ...CODES), [], 'a Service port and its targetPort both reach the gateway');
    assert.deepEqual(findings({ '/gw.yaml': gateway('{ app: edge }', [8004]), '/k8s.yaml': CUSTOM }, ...CODES).map((f) => f.text), ['8004']);
    const noTarget = CUSTOM.replace(', targetPort: 8003', '');
    assert.deepEqual(findings({ '/gw.yaml': gateway('{ app: edge }', [8003]), '/k8s.yaml': noTarget }, ...CODES).map((f) => f.text), ['8003']);
  });
});
