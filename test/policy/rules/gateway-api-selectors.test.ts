import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { findings } from './helpers';

const POD = `apiVersion: v1
kind: Pod
metadata: { name: bookinfo-gateway-istio-1, namespace: default, labels: { gateway.networking.k8s.io/gateway-name: bookinfo-gateway } }
spec: { containers: [{ name: istio-proxy }] }
`;
const policy = (kind: string, apiVersion: string, extra = '') => `apiVersion: ${apiVersion}
kind: ${kind}
metadata: { name: at-gateway, namespace: default }
spec:
  selector: { matchLabels: { gateway.networking.k8s.io/gateway-name: bookinfo-gateway } }
${extra}`;

describe('policies on a Gateway API gateway\'s pods', () => {
  it('are ineffective when they select the pods by label (IST0166), for each kind Istio attaches by targetRef', () => {
    for (const [kind, apiVersion] of [['AuthorizationPolicy', 'security.istio.io/v1'], ['RequestAuthentication', 'security.istio.io/v1'], ['Telemetry', 'telemetry.istio.io/v1'], ['WasmPlugin', 'extensions.istio.io/v1alpha1']]) {
      const [f] = findings({ '/pod.yaml': POD, '/policy.yaml': policy(kind, apiVersion) }, 'ineffective-selector');
      assert.ok(f, kind);
      assert.match(f.message, /selects the pods of Gateway API gateway "bookinfo-gateway" by label.*IST0166.*targetRef/);
    }
  });

  it('are fine with a targetRef, or without such pods', () => {
    const withRef = policy('Telemetry', 'telemetry.istio.io/v1', '  targetRef: { group: gateway.networking.k8s.io, kind: Gateway, name: bookinfo-gateway }\n');
    assert.deepEqual(findings({ '/pod.yaml': POD, '/policy.yaml': withRef }, 'ineffective-selector'), []);
    assert.deepEqual(findings({ '/policy.yaml': policy('RequestAuthentication', 'security.istio.io/v1') }, 'ineffective-selector'), []);
  });
});
