import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import { findServices, planInit, type InitPlan } from '../../simulator/init';
import { Workspace } from '../../simulator/policy';
import { pkg, project } from './helpers';

const COMPOSE = `
services:
  api: { build: ./api, command: node server.js, ports: ["8081:3000"], environment: { GREETING: hi } }
  web: { build: ./web, ports: ["8082:3000"], environment: ["API_URL=http://api:3000"] }
  cache: { image: "redis:7", ports: ["6379:6379"] }
  worker: { build: ./worker, command: node worker.js }
`;

/** Every project shape init reads, and the flags. */
const PROJECTS: Record<string, { files: Record<string, string>; flags?: string[] }> = {
  'a Compose file': { files: { 'docker-compose.yml': COMPOSE, 'web/package.json': pkg({ start: 'node web.js' }) } },
  'a Procfile': { files: { Procfile: 'web: node web.js\nadmin: node admin.js --port $PORT\nworker: node w.js\n' } },
  'package.json workspaces': { files: { 'package.json': JSON.stringify({ workspaces: ['packages/*'] }), 'packages/a/package.json': pkg({ start: 'node a.js' }), 'packages/b/package.json': pkg({ start: 'next start -p 3000' }) } },
  'flags': { files: {}, flags: ['api=3000:node api.js', 'web=3000:node web.js', 'debugger=9229'] },
  'nothing at all (the placeholder)': { files: {} },
  'only a database': { files: { 'compose.yaml': 'services:\n  db: { image: postgres:16, ports: ["5432:5432"] }\n' } },
};

/** What devmesh validate says of the plan's files; a tcp service's "not simulated" warning is expected (devmesh does not proxy TCP yet). */
function validate(plan: InitPlan): string[] {
  const ws = new Workspace();
  for (const f of plan.files) ws.setFile(`/project/${f.path}`, f.text);
  const tcp = plan.services.filter((s) => s.protocol === 'tcp').map((s) => `"${s.name}"`);
  return ws.diagnostics()
    .filter((d) => !(d.code === 'not-simulated' && d.severity === 'warning' && tcp.some((name) => d.message.includes(name))))
    .map((d) => `${d.file} ${d.severity} ${d.code}: ${d.message}`);
}

describe('devmesh init plans mesh.yaml and policies/', () => {
  for (const [what, p] of Object.entries(PROJECTS)) {
    it(`writes files that validate with no error and no warning, from ${what}`, () => {
      const plan = planInit(findServices(project(p.files), p.flags), 'shop');
      assert.deepEqual(validate(plan), []);
      assert.deepEqual(plan.files.map((f) => f.path.split('/')[0]), ['mesh.yaml', 'policies']);
    });
  }

  it('finds the services of every source once, Compose first, and notes the duplicate', () => {
    const found = findServices(project({
      'docker-compose.yml': 'services:\n  web: { command: ["node", "web.js"], ports: ["3000"] }\n',
      Procfile: 'web: node other.js\n',
      'package.json': pkg({ start: 'node server.js' }, { name: 'shop' }),
    }));
    assert.deepEqual(found.services.map((s) => `${s.name} from ${s.origin}`), ['web from docker-compose.yml', 'shop from package.json']);
    assert.match(found.notes.map((n) => n.message).join('\n'), /Procfile also declares "web"; kept the one from docker-compose\.yml/);
  });

  it('looks for nothing else when --service flags are given', () => {
    const found = findServices(project({ 'docker-compose.yml': COMPOSE }), ['only=4000:node only.js']);
    assert.deepEqual(found.services.map((s) => s.name), ['only']);
  });

  it('gives each workload a port of its own and says which moved, keeping the port of one it does not start', () => {
    const plan = planInit(findServices(project({}), ['a=3000:node a.js', 'b=3000:node b.js', 'c=80:node c.js', 'd=15000:node d.js', 'e=6000']), 'm');
    assert.deepEqual(plan.services.map((s) => s.workloadPort), [3000, 9100, 9101, 9102, 6000]);
    assert.match(plan.notes.map((n) => n.message).join('\n'), /b gets port 9100 \(as PORT\): 3000 is taken.*\n.*c gets port 9101 \(as PORT\): 80 is privileged/);
  });

  it('writes each service with one v1 workload that its starter DestinationRule subset selects, and the commented knobs', () => {
    const plan = planInit(findServices(project({ 'docker-compose.yml': COMPOSE, 'web/package.json': pkg({ start: 'node web.js' }) })), 'shop');
    const mesh = parse(plan.files[0].text);
    assert.deepEqual(mesh.spec.services.map((s: any) => [s.name, s.port, s.protocol ?? 'http', s.workloads[0].port, s.workloads[0].command, s.workloads[0].cwd, s.workloads[0].image]), [
      ['api', 3000, 'http', 8081, ['node', 'server.js'], 'api', undefined],
      ['web', 3000, 'http', 8082, ['npm', 'start'], 'web', undefined],
      ['cache', 6379, 'tcp', 6379, undefined, undefined, 'redis:7'],
    ]);
    assert.deepEqual(mesh.spec.services[1].workloads[0].env, { API_URL: 'http://api:3000' });
    assert.match(plan.files[0].text, /# from docker-compose\.yml\n/);
    assert.match(plan.files[0].text, /# controlPort: 15000/);
    assert.equal(plan.files[1].path, 'policies/api.yaml');
    const [vs, dr] = parseAllDocuments(plan.files[1].text).map((d) => d.toJS());
    assert.deepEqual([vs.kind, vs.spec.http[0].route[0].destination], ['VirtualService', { host: 'api', subset: 'v1' }]);
    assert.deepEqual([dr.kind, dr.spec.subsets], ['DestinationRule', [{ name: 'v1', labels: { version: 'v1' } }]]);
    assert.deepEqual(mesh.spec.services[0].workloads[0].labels, { app: 'api', version: 'v1' });
    for (const knob of ['retries:', 'fault:', 'timeout:', 'outlierDetection:', 'connectionPool:']) assert.match(plan.files[1].text, new RegExp(`# +${knob}`));
  });

  it('writes only a DestinationRule when no service speaks HTTP, since a VirtualService\'s http routes would not apply', () => {
    const plan = planInit(findServices(project(PROJECTS['only a database'].files)), 'db');
    assert.deepEqual(parseAllDocuments(plan.files[1].text).map((d) => d.toJS().kind), ['DestinationRule']);
  });
});
