/** `devmesh validate` as a user runs it: a real process, real files, exit codes and both formats. */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';

const ROOT = path.join(__dirname, '..', '..', '..');
const BIN = path.join(ROOT, 'bin', 'devmesh.js');
const run = (args: string[], cwd = ROOT) => spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 30_000 });

function workspace(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'devmesh-validate-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const BROKEN_VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
    - route:
        - destination: { host: reviews }
      timeot: 10s
`;

describe('devmesh validate', () => {
  it('exits 0 with a summary for the bookinfo example', () => {
    const r = run(['validate', 'examples/bookinfo']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /0 errors, 0 warnings in 6 files checked/);
  });

  it('says which policies beside a Mesh named alone were not checked, and how to check them with it', () => {
    const alone = run(['validate', 'examples/bookinfo/mesh.yaml']);
    assert.equal(alone.status, 0, alone.stdout + alone.stderr);
    assert.match(alone.stdout, /in 1 file checked/);
    assert.match(alone.stderr, /note: examples\/bookinfo\/mesh\.yaml is a Mesh, and `devmesh up -f examples\/bookinfo\/mesh\.yaml` also runs the 5 policy files under examples\/bookinfo that were not checked here: `devmesh validate examples\/bookinfo` checks them with it/);
    // Named with its folder, or with nothing beside it: no note.
    assert.equal(run(['validate', 'examples/bookinfo/mesh.yaml', 'examples/bookinfo']).stderr, '');
    const dir = workspace({ 'mesh.yaml': 'apiVersion: devmesh.dev/v1alpha1\nkind: Mesh\nmetadata: { name: m }\nspec:\n  services: []\n', 'ci.yaml': 'on: [push]\n' });
    assert.equal(run(['validate', path.join(dir, 'mesh.yaml')]).stderr, '');
  });

  it('exits 1 and prints path:line:col: severity code: message for an error', () => {
    const dir = workspace({ 'vs.yaml': BROKEN_VS });
    const r = run(['validate', '.'], dir);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /^vs\.yaml:9:7: error unknown-field: unknown field "timeot" in HTTPRoute: did you mean "timeout"\?/m);
    assert.match(r.stdout, /1 error, 0 warnings, 1 note in 1 file checked/);
  });

  it('prints a JSON array of positioned diagnostics with --format json', () => {
    const dir = workspace({ 'vs.yaml': BROKEN_VS });
    const r = run(['validate', '--format', 'json', path.join(dir, 'vs.yaml')]);
    assert.equal(r.status, 1);
    const diags = JSON.parse(r.stdout);
    const d = diags.find((x: { code: string }) => x.code === 'unknown-field');
    assert.deepEqual(
      { line: d.line, column: d.column, endLine: d.endLine, endColumn: d.endColumn, severity: d.severity },
      { line: 9, column: 7, endLine: 9, endColumn: 13, severity: 'error' },
    );
    assert.ok(d.file.endsWith('vs.yaml'));
    assert.equal(typeof d.message, 'string');
  });

  it('exits 0 when there are only warnings', () => {
    const dir = workspace({
      'mesh.yaml': 'apiVersion: devmesh.dev/v1alpha1\nkind: Mesh\nmetadata: { name: m }\nspec:\n  services:\n    - name: a\n      port: 80\n      workloads: [{ name: a-v1, port: 7001 }]\n',
      'dr.yaml': 'apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: { name: b }\nspec:\n  host: b\n',
    });
    const r = run(['validate', dir]);
    assert.equal(r.status, 0, r.stdout);
    assert.match(r.stdout, /warning unknown-host/);
  });

  it('ignores YAML files that are not mesh policies', () => {
    const dir = workspace({ 'ci.yaml': 'on: [push]\njobs: { a: [ }\n', 'deploy.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: x }\n' });
    const r = run(['validate', dir]);
    assert.equal(r.status, 0, r.stdout);
    assert.match(r.stdout, /0 errors, 0 warnings in 0 files checked/);
  });

  it('exits 2 for a usage error: an unknown option, a bad format or a missing path', () => {
    assert.equal(run(['validate', '--nope']).status, 2);
    assert.equal(run(['validate', '--format', 'xml']).status, 2);
    const r = run(['validate', 'does/not/exist']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /does\/not\/exist: no such file or folder/);
  });

  it('prints help with examples and exits 0', () => {
    const r = run(['validate', '--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /--format <format>/);
    assert.match(r.stdout, /Exit status/);
  });
});
