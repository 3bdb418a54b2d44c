/**
 * The corpus: valid files must produce no diagnostic at all; in invalid files
 * every line marked `# expect: <code>` must get a diagnostic with that code
 * starting on that line, and no other error may appear.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { offsetToPosition, Workspace } from '../../simulator/policy';

const CORPUS = path.join(__dirname, '..', '..', '..', 'test', 'policy', 'corpus');
const read = (f: string) => readFileSync(f, 'utf8');
const yamlFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => path.join(dir, f));

function expectations(text: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  text.split('\n').forEach((line, i) => {
    const m = /#\s*expect:\s*([\w-]+(?:\s*,\s*[\w-]+)*)/.exec(line);
    if (m) out.set(i + 1, m[1].split(',').map((s) => s.trim()));
  });
  return out;
}

function check(files: string[], target: string): void {
  const ws = new Workspace();
  for (const f of files) ws.setFile(f, read(f));
  const text = read(target);
  const lines = ws.getSource(target)!.lineStarts;
  const diags = ws.diagnostics().filter((d) => d.file === target).map((d) => ({ ...d, line: offsetToPosition(lines, d.range.start).line + 1 }));
  const expected = expectations(text);
  assert.ok(expected.size > 0, `${target} has no expectations`);
  for (const [line, codes] of expected) {
    for (const code of codes) {
      assert.ok(diags.some((d) => d.line === line && d.code === code),
        `${path.basename(target)}:${line}: expected ${code}; got ${JSON.stringify(diags.filter((d) => d.line === line).map((d) => d.code))}\nall: ${diags.map((d) => `${d.line} ${d.code}`).join('; ')}`);
    }
  }
  for (const d of diags) {
    if (d.severity !== 'error') continue;
    assert.ok(expected.get(d.line)?.includes(d.code), `${path.basename(target)}:${d.line}: unexpected ${d.code}: ${d.message}`);
  }
}

describe('policy corpus', () => {
  const mesh = path.join(CORPUS, 'mesh.yaml');

  it('accepts every valid file with no diagnostic at all', () => {
    const files = [mesh, ...yamlFiles(path.join(CORPUS, 'valid'))];
    const ws = new Workspace();
    for (const f of files) ws.setFile(f, read(f));
    const diags = ws.diagnostics();
    assert.deepEqual(diags.map((d) => `${path.basename(d.file)}: ${d.code}: ${d.message}`), []);
  });

  for (const file of yamlFiles(path.join(CORPUS, 'invalid'))) {
    it(`reports each defect of invalid/${path.basename(file)} at its line with its code`, () => check([mesh, file], file));
  }

  for (const file of yamlFiles(path.join(CORPUS, 'invalid-mesh'))) {
    it(`reports each defect of invalid-mesh/${path.basename(file)} at its line with its code`, () => check([file], file));
  }

  it('validates the bookinfo example cleanly, with each Istio task file in place of its routing', () => {
    const root = path.join(CORPUS, '..', '..', '..', 'examples');
    const base = ['mesh.yaml', 'policies/gateway.yaml', 'policies/destination-rules.yaml', 'policies/security.yaml'].map((f) => path.join(root, 'bookinfo', f));
    const routings = [path.join(root, 'bookinfo', 'policies', 'routing.yaml'), ...yamlFiles(path.join(root, 'bookinfo-tasks'))];
    assert.ok(routings.length >= 6);
    for (const routing of routings) {
      const ws = new Workspace();
      for (const f of [...base, routing]) ws.setFile(f, read(f));
      assert.deepEqual(ws.diagnostics().map((d) => `${path.basename(d.file)}: ${d.code}: ${d.message}`), [], routing);
    }
  });

  it('validates the end-users example cleanly, with each of its task files added', () => {
    const root = path.join(CORPUS, '..', '..', '..', 'examples');
    const base = ['mesh.yaml', 'policies/gateway.yaml'].map((f) => path.join(root, 'end-users', f));
    const tasks = yamlFiles(path.join(root, 'end-users-tasks'));
    assert.ok(tasks.length >= 5);
    for (const task of [undefined, ...tasks]) {
      const ws = new Workspace();
      for (const f of [...base, ...(task ? [task] : [])]) ws.setFile(f, read(f));
      assert.deepEqual(ws.diagnostics().map((d) => `${path.basename(d.file)}: ${d.code}: ${d.message}`), [], task);
    }
  });

  it('validates the Gateway API bookinfo example cleanly, with each Gateway API task file in place of its routing', () => {
    const root = path.join(CORPUS, '..', '..', '..', 'examples');
    const base = ['mesh.yaml', 'policies/gateway.yaml'].map((f) => path.join(root, 'bookinfo-gateway-api', f));
    const routings = [path.join(root, 'bookinfo-gateway-api', 'policies', 'routing.yaml'), ...yamlFiles(path.join(root, 'bookinfo-tasks', 'gateway-api'))];
    assert.ok(routings.length >= 7);
    for (const routing of routings) {
      const ws = new Workspace();
      for (const f of [...base, routing]) ws.setFile(f, read(f));
      assert.deepEqual(ws.diagnostics().map((d) => `${path.basename(d.file)}: ${d.code}: ${d.message}`), [], routing);
    }
  });
});
