/** What a Mesh edit does to a running mesh (simulator/control/mesh-change.ts), decided without processes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describePlan, planMeshChange } from '../../simulator/control/mesh-change';
import type { MeshSpec, Resource } from '../../simulator/policy/model';

const mesh = (edit: (spec: MeshSpec) => void = () => {}): Resource<'Mesh'> => {
  const spec: MeshSpec = {
    controlPort: 15000,
    services: [
      { name: 'reviews', port: 9080, workloads: [
        { name: 'reviews-v1', port: 9181, labels: { version: 'v1' }, command: ['node', 'reviews.js'], env: { STARS: 'none' } },
        { name: 'reviews-v2', port: 9182, labels: { version: 'v2' }, command: ['node', 'reviews.js'] },
      ] },
      { name: 'ratings', port: 9080, workloads: [{ name: 'ratings-v1', port: 9191 }] },
    ],
  };
  edit(spec);
  return { apiVersion: 'devmesh.dev/v1alpha1', kind: 'Mesh', metadata: { name: 'm' }, spec };
};

test('the same Mesh plans nothing', () => {
  const plan = planMeshChange(mesh(), mesh());
  assert.deepEqual(plan, { needsRestart: [], added: [], removed: [], restartApp: [], restartSidecar: [], changed: false, defaultsChanged: false });
});

test('a compatibilityVersion or meshConfig edit is a new snapshot for the sidecars, no restart (as istiod pushes a MeshConfig change)', () => {
  for (const edit of [(s: MeshSpec) => { s.compatibilityVersion = '1.23'; }, (s: MeshSpec) => { s.meshConfig = { defaultConfig: { proxyHeaders: { server: { disabled: true } } } }; }]) {
    const plan = planMeshChange(mesh(), mesh(edit));
    assert.equal(plan.defaultsChanged, true);
    assert.deepEqual([plan.needsRestart, plan.added, plan.removed, plan.restartApp, plan.restartSidecar, plan.changed], [[], [], [], [], [], false]);
  }
});

test('a new workload is started and a missing one stopped; the others are left alone', () => {
  const plan = planMeshChange(mesh(), mesh((s) => {
    s.services[0].workloads!.splice(1, 1);
    s.services[1].workloads!.push({ name: 'ratings-v2', port: 9192, command: ['node', 'ratings.js'] });
  }));
  assert.deepEqual(plan.added.map((w) => [w.service, w.spec.name]), [['ratings', 'ratings-v2']]);
  assert.deepEqual(plan.removed, ['reviews-v2']);
  assert.deepEqual([plan.restartApp, plan.restartSidecar], [[], []]);
  assert.equal(plan.changed, true);
  assert.equal(describePlan(plan), 'started ratings-v2; stopped reviews-v2');
});

test('command, env, cwd and port restart the app; labels and service ports only change the snapshot', () => {
  const edits: Array<[string, (s: MeshSpec) => void, string[]]> = [
    ['env', (s) => { s.services[0].workloads![0].env = { STARS: 'red' }; }, ['reviews-v1']],
    ['command', (s) => { s.services[0].workloads![1].command = ['node', 'reviews.js', '--v2']; }, ['reviews-v2']],
    ['cwd', (s) => { s.services[0].workloads![0].cwd = 'svc'; }, ['reviews-v1']],
    ['port', (s) => { s.services[0].workloads![0].port = 9999; }, ['reviews-v1']],
    ['labels', (s) => { s.services[0].workloads![0].labels = { version: 'v1b' }; }, []],
    ['service port', (s) => { s.services[0].port = 9090; }, []],
    // No command: the developer runs ratings-v1; devmesh has no app to restart.
    ['port of a workload devmesh does not run', (s) => { s.services[1].workloads![0].port = 9999; }, []],
    ['command removed', (s) => { delete s.services[0].workloads![0].command; }, ['reviews-v1']],
  ];
  for (const [what, edit, apps] of edits) {
    const plan = planMeshChange(mesh(), mesh(edit));
    assert.deepEqual(plan.restartApp, apps, what);
    assert.deepEqual(plan.restartSidecar, [], what);
    assert.equal(plan.changed, true, what);
  }
});

test('a new service account or pinned sidecar port restarts the sidecar; a new outbound port also the app (its HTTP_PROXY)', () => {
  let plan = planMeshChange(mesh(), mesh((s) => { s.services[0].workloads![0].serviceAccount = 'reviews-sa'; }));
  assert.deepEqual([plan.restartSidecar, plan.restartApp], [['reviews-v1'], []]);
  plan = planMeshChange(mesh(), mesh((s) => { s.services[0].workloads![1].sidecar = { inboundPort: 15106 }; }));
  assert.deepEqual([plan.restartSidecar, plan.restartApp], [['reviews-v2'], []]);
  plan = planMeshChange(mesh(), mesh((s) => { s.services[0].workloads![1].sidecar = { outboundPort: 15107 }; }));
  assert.deepEqual([plan.restartSidecar, plan.restartApp], [['reviews-v2'], ['reviews-v2']]);
  // Moving a workload to another service changes its default service account, so its identity.
  plan = planMeshChange(mesh(), mesh((s) => { s.services[1].workloads!.push(s.services[0].workloads!.pop()!); }));
  assert.deepEqual([plan.added, plan.removed, plan.restartSidecar], [[], [], ['reviews-v2']]);
});

test('mesh-wide settings are named as needing a new devmesh up', () => {
  const plan = planMeshChange(mesh(), mesh((s) => { s.controlPort = 16000; s.trustDomain = 'example.org'; s.ingress = { port: 8080 }; }));
  assert.deepEqual(plan.needsRestart, ['spec.controlPort', 'spec.ingress', 'spec.trustDomain']);
  assert.equal(plan.changed, false);
});

test('a workload in spec.workloads is started like a nested one; a move to another namespace is a new identity', () => {
  const plan = planMeshChange(mesh(), mesh((s) => { s.workloads = [{ name: 'loadgen', namespace: 'tools', port: 9300, command: ['node', 'load.js'] }]; }));
  assert.deepEqual(plan.added.map((w) => [w.service, w.spec.name, w.field]), [['loadgen', 'loadgen', ['spec', 'workloads', 0]]]);
  assert.equal(plan.changed, true);
  const moved = planMeshChange(mesh(), mesh((s) => { s.services[1].namespace = 'other'; }));
  assert.deepEqual([moved.restartSidecar, moved.restartApp], [['ratings-v1'], []]);
});

test('a service port change leaves the apps alone; a new local port in ports restarts the app', () => {
  const withPorts = (local: number) => mesh((s) => { s.services[0].workloads![0] = { name: 'reviews-v1', ports: { '9080': 9181, admin: local }, command: ['node', 'reviews.js'] }; });
  assert.deepEqual(planMeshChange(withPorts(9190), withPorts(9191)).restartApp, ['reviews-v1']);
  assert.deepEqual(planMeshChange(mesh(), mesh((s) => { s.services[0].ports = [{ name: 'http', port: 9080 }, { name: 'http-x', port: 9081, targetPort: 9080 }]; delete s.services[0].port; })).restartApp, []);
});

test('an edit of the extension providers is a new snapshot, applied at once like a meshConfig edit', () => {
  const plan = planMeshChange(mesh(), mesh((s) => {
    s.extensionProviders = [{ name: 'authz', envoyExtAuthzHttp: { service: '127.0.0.1', port: 9300 } }];
  }));
  assert.deepEqual([plan.changed, plan.extensionProviders, plan.needsRestart, plan.added, plan.restartApp], [true, true, [], [], []]);
  assert.equal(describePlan(plan), 'extension providers updated');
});
