/**
 * A user's own project, as the real-editor scenarios open it: two tiny Node
 * services (front calls back through its sidecar), no node_modules, nothing
 * of this repository. Either with a hand-written mesh.yaml on free ports, or
 * with only a docker-compose.yml for Create Mesh File to read.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePorts } from './harness/env';

const BACK = `require('node:http').createServer((req, res) => res.end('hello from back')).listen(Number(process.env.PORT), '127.0.0.1');\n`;
const FRONT = `const http = require('node:http');
const outbound = new URL(process.env.DEVMESH_OUTBOUND);
http.createServer((req, res) => {
  http.get({ host: outbound.hostname, port: outbound.port, path: 'http://back:8080/', headers: { host: 'back:8080' } }, (r) => {
    let body = '';
    r.on('data', (c) => { body += c; });
    r.on('end', () => res.end('front got: ' + body));
  }).on('error', (e) => { res.statusCode = 502; res.end(String(e)); });
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

export interface OwnProject { dir: string; ingressPort: number; controlPort: number; workloads: string[] }

function write(dir: string, files: Record<string, string>): void {
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), text);
  }
}

/** A project with a mesh.yaml (services back and front, one workload each) on free ports. */
export async function projectWithMesh(): Promise<OwnProject> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-own-'));
  const [controlPort, ingressPort, backPort, frontPort] = await freePorts(4);
  write(dir, {
    'back/server.js': BACK,
    'front/server.js': FRONT,
    'mesh.yaml': `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: own }
spec:
  controlPort: ${controlPort}
  ingress: { port: ${ingressPort} }
  services:
    - name: back
      port: 8080
      workloads:
        - { name: back-v1, labels: { app: back, version: v1 }, port: ${backPort}, command: [node, server.js], cwd: back }
    - name: front
      port: 8080
      workloads:
        - { name: front-v1, labels: { app: front, version: v1 }, port: ${frontPort}, command: [node, server.js], cwd: front }
`,
  });
  return { dir, controlPort, ingressPort, workloads: ['back-v1', 'front-v1'] };
}

/** The same two services declared only in a docker-compose.yml. */
export async function projectWithCompose(): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'devmesh-own-compose-'));
  const [backPort, frontPort] = await freePorts(2);
  write(dir, {
    'back/server.js': BACK,
    'front/server.js': FRONT,
    'docker-compose.yml': `services:
  back: { build: ./back, command: node server.js, ports: ["${backPort}:8080"] }
  front: { build: ./front, command: node server.js, ports: ["${frontPort}:8080"], environment: { BACKEND: "http://back:8080" } }
`,
  });
  return dir;
}
