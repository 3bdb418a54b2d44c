/**
 * devmesh validate measured on Istio's own analyzer suite (cases.ts): each
 * case's inputs go through `devmesh import` to a Mesh, then the Mesh and the
 * inputs are validated together, as `istioctl analyze` reads the inputs. A
 * message Istio expects counts as found when devmesh reports a finding on the
 * same resource whose message names the same Istio code (a citation of
 * several codes names none of them). Every other error or warning must be
 * one Istio reports too (listed in the case's `alsoIstio`), or a devmesh
 * notice that a field is not simulated; the rest are false findings.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { isMap, isSeq, parseAllDocuments, type Node } from 'yaml';
import { importManifests } from '../../simulator/import';
import { Workspace, type Diagnostic } from '../../simulator/policy';
import { applies, CASES, type ApplicableCase } from './istio-analyze/cases';

const TESTDATA = path.join(__dirname, '..', '..', '..', 'test', 'policy', 'istio-analyze', 'testdata');
/** The target share of the expected messages of the cases that apply. */
const TARGET = 0.9;

interface Located {
  resource: string;
  start: number;
  end: number;
}

/** Every resource of a file (List items included) with its range, named as Istio names it. */
function resourcesOf(text: string): Located[] {
  const out: Located[] = [];
  const add = (node: unknown) => {
    if (!isMap(node) || !node.range) return;
    const value = (node as Node).toJSON() as Record<string, any>;
    if (value.kind === 'List' && isSeq((node as any).get('items', true))) {
      for (const item of (node as any).get('items', true).items) add(item);
      return;
    }
    const ns = value.metadata?.namespace;
    out.push({ resource: `${value.kind} ${ns ? `${ns}/` : ''}${value.metadata?.name ?? ''}`, start: node.range[0], end: node.range[2] });
  };
  for (const doc of parseAllDocuments(text)) add(doc.contents);
  return out;
}

/** `VirtualService foo/*` matches every VirtualService of namespace foo; `*` any run of characters. */
function glob(pattern: string, resource: string): boolean {
  return new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*')}$`).test(resource);
}

/**
 * The Istio codes a message names. The catalogue's citation at the end
 * ("[IST0101, IST0112, IST0174]") names a code only when it cites one: a
 * citation of several says the finding is one of them, not which.
 */
function istioCodes(message: string): string[] {
  const cite = / \[([^\]]*)\]$/.exec(message);
  const own = cite && (cite[1].match(/IST\d{4}/g) ?? []).length > 1 ? message.slice(0, cite.index) : message;
  return [...new Set(own.match(/IST\d{4}/g) ?? [])];
}

interface Finding {
  resource: string;
  codes: string[];
  diagnostic: Diagnostic;
}

interface Outcome {
  found: number;
  missed: string[];
  unexplained: string[];
  /** Errors and warnings Istio gives too, through another analyzer or its schema validation (the case's alsoIstio). */
  alsoIstio: number;
  meshProblems: string[];
}

function run(c: ApplicableCase): Outcome {
  const files = c.inputs.map((f) => ({ path: f, text: readFileSync(path.join(TESTDATA, f), 'utf8') }));
  const imported = importManifests(files, { name: 'suite', source: 'testdata' });
  const ws = new Workspace();
  const meshFile = path.join('/suite', 'mesh.yaml');
  ws.setFile(meshFile, imported.meshText);
  const located = new Map<string, Located[]>();
  for (const f of files) {
    const file = path.join('/suite', f.path);
    ws.setFile(file, f.text);
    located.set(file, resourcesOf(f.text));
  }
  const findings: Finding[] = ws.diagnostics().map((d) => ({
    resource: located.get(d.file)?.find((r) => d.range.start >= r.start && d.range.start < r.end)?.resource ?? `(${path.basename(d.file)})`,
    codes: istioCodes(d.message),
    diagnostic: d,
  }));
  // Each finding answers at most one expected message per Istio code it names.
  const used = new Set<string>();
  const missed: string[] = [];
  let found = 0;
  for (const [code, resource] of c.expected) {
    const i = findings.findIndex((f, n) => f.resource === resource && f.codes.includes(code) && !used.has(`${n} ${code}`));
    if (i < 0) missed.push(`${code} ${resource}`);
    else {
      used.add(`${i} ${code}`);
      found++;
    }
  }
  const unexplained: string[] = [];
  let alsoIstio = 0;
  findings.forEach((f, n) => {
    const d = f.diagnostic;
    if (d.severity === 'info' || d.code === 'not-simulated') return;
    if (f.codes.some((code) => used.has(`${n} ${code}`))) return;
    // The same message on the same resource again (Istio reports a resource once per analyzer).
    if (f.codes.some((code) => c.expected.some(([e, r]) => e === code && r === f.resource))) return;
    if (f.codes.some((code) => c.alsoIstio?.some((a) => a.code === code && glob(a.resource, f.resource)))) {
      alsoIstio++;
      return;
    }
    unexplained.push(`${d.severity} ${d.code} on ${f.resource}: ${d.message}`);
  });
  const meshProblems = findings.filter((f) => f.diagnostic.file === meshFile && f.diagnostic.severity !== 'info' && f.diagnostic.code !== 'not-simulated')
    .map((f) => `${f.diagnostic.code}: ${f.diagnostic.message}`);
  return { found, missed, unexplained, alsoIstio, meshProblems };
}

describe('devmesh validate on Istio\'s analyzer suite', () => {
  const applicable = CASES.filter(applies);
  const outcomes = new Map(applicable.map((c) => [c.name, run(c)]));

  it('finds at least 90 % of the messages Istio expects in the cases that apply', () => {
    const expected = applicable.reduce((n, c) => n + c.expected.length, 0);
    const all = [...outcomes.values()];
    const found = all.reduce((n, o) => n + o.found, 0);
    const valid = applicable.filter((c) => c.expected.length === 0);
    const falseFindings = all.reduce((n, o) => n + o.unexplained.length, 0);
    const others = CASES.filter((c) => !applies(c));
    const lines = [
      `Istio analyzer suite: ${found}/${expected} expected messages found (${(100 * found / expected).toFixed(1)} %) in ${applicable.length} cases that apply;`,
      `false findings (errors or warnings Istio would not give): ${falseFindings}, ${valid.reduce((n, c) => n + outcomes.get(c.name)!.unexplained.length, 0)} of them on the ${valid.length} cases whose inputs Istio finds valid;`,
      `${all.reduce((n, o) => n + o.alsoIstio, 0)} errors and warnings that Istio's other analyzers or its schema validation give too (each case's alsoIstio);`,
      `${others.length} cases (${others.reduce((n, c) => n + (applies(c) ? 0 : c.messages), 0)} messages) do not apply to a local mesh.`,
      ...applicable.flatMap((c) => outcomes.get(c.name)!.missed.map((m) => `  missed in "${c.name}": ${m}`)),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    assert.ok(found / expected >= TARGET, lines.join('\n'));
  });

  it('reports no error or warning that Istio would not give on the suite\'s inputs', () => {
    const unexplained = applicable.flatMap((c) => outcomes.get(c.name)!.unexplained.map((u) => `"${c.name}": ${u}`));
    assert.deepEqual(unexplained, []);
  });

  it('imports each case\'s inputs to a Mesh that validates', () => {
    const problems = applicable.flatMap((c) => outcomes.get(c.name)!.meshProblems.map((p) => `"${c.name}": ${p}`));
    assert.deepEqual(problems, []);
  });

  it('says for every case of the suite either what Istio expects or why it does not apply', () => {
    assert.equal(CASES.length, 104);
    for (const c of CASES) {
      if (applies(c)) assert.ok(c.inputs.length > 0, c.name);
      else assert.ok(c.notApplicable.length > 20, c.name);
    }
  });
});
