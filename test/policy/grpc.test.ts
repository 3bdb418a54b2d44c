/** gRPC in the policy language: abort.grpcStatus by Istio's names, and grpc/http2 ports served (no "not simulated" warning). */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Workspace } from '../../simulator/policy';
import { GRPC_STATUS_NAMES } from '../../simulator/policy/grpc-status';

const MESH = `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: m }
spec:
  services:
    - name: ratings
      ports:
        - { name: http, port: 9080 }
        - { name: grpc-api, port: 9090 }
        - { name: h2, port: 9091, appProtocol: kubernetes.io/h2c }
        - { name: grpc-web, port: 9092 }
      workloads:
        - { name: ratings-v1, ports: { "9080": 9185, "9090": 9186, "9091": 9187, "9092": 9188 } }
`;

const abort = (status: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings }
spec:
  hosts: [ratings]
  http:
    - fault:
        abort:
          grpcStatus: ${status}
          percentage: { value: 100 }
      route:
        - destination: { host: ratings, port: { number: 9090 } }
`;

function diagnostics(files: Record<string, string>) {
  const ws = new Workspace();
  for (const [name, text] of Object.entries(files)) ws.setFile(name, text);
  return ws.diagnostics();
}

describe('abort.grpcStatus', () => {
  it('accepts every gRPC status name Istio accepts', () => {
    for (const name of GRPC_STATUS_NAMES) assert.deepEqual(diagnostics({ 'mesh.yaml': MESH, 'vs.yaml': abort(name) }).filter((d) => d.file === 'vs.yaml'), [], name);
  });

  it('refuses a misspelled name with a guess and the whole list', () => {
    const [d, ...rest] = diagnostics({ 'mesh.yaml': MESH, 'vs.yaml': abort('UNAVAILBLE') }).filter((x) => x.file === 'vs.yaml');
    assert.deepEqual(rest, []);
    assert.equal(d.code, 'bad-enum');
    assert.equal(d.severity, 'error');
    assert.match(d.message, /"UNAVAILBLE" is not a valid grpcStatus: did you mean "UNAVAILABLE"\?/);
    for (const name of GRPC_STATUS_NAMES) assert.ok(d.message.includes(`"${name}"`), `${name} is listed`);
  });

  it('refuses lower case and numbers, as Istio does (validateGRPCStatus)', () => {
    assert.equal(diagnostics({ 'vs.yaml': abort('unavailable') }).filter((x) => x.code === 'bad-enum').length, 1);
    assert.equal(diagnostics({ 'vs.yaml': abort('"14"') }).filter((x) => x.code === 'bad-enum').length, 1);
  });

  it('devmesh validate prints it at file:line:col', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'devmesh-grpc-'));
    writeFileSync(path.join(dir, 'mesh.yaml'), MESH);
    writeFileSync(path.join(dir, 'vs.yaml'), abort('NOT_A_CODE'));
    const bin = path.join(__dirname, '..', '..', '..', 'bin', 'devmesh.js');
    const r = spawnSync(process.execPath, [bin, 'validate', '.'], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 30_000 });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^vs\.yaml:9:23: error bad-enum: "NOT_A_CODE" is not a valid grpcStatus: use one of "OK", "CANCELLED", .*"UNAUTHENTICATED"/m);
  });
});

describe('gRPC and HTTP/2 ports', () => {
  it('are served: no "not simulated" warning for grpc-* and h2c ports; grpc-web is still carried only', () => {
    const warnings = diagnostics({ 'mesh.yaml': MESH }).filter((d) => d.code === 'not-simulated');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0].message, /port 9092 of service "ratings" is grpc-web/);
  });
});
