/** Small workspaces for rule tests: files in, findings with their line and resource out. */
import { offsetToPosition, Workspace, type Diagnostic } from '../../../simulator/policy';

export interface Finding {
  code: string;
  severity: string;
  /** 1-based line of the finding's start. */
  line: number;
  /** The text the finding underlines. */
  text: string;
  message: string;
}

/** Validates the files (path -> text) together and returns every finding, in order. */
export function validate(files: Record<string, string>): Finding[] {
  const ws = new Workspace();
  for (const [file, text] of Object.entries(files)) ws.setFile(file, text);
  return ws.diagnostics().map((d: Diagnostic) => {
    const source = ws.getSource(d.file)!;
    return {
      code: d.code,
      severity: d.severity,
      line: offsetToPosition(source.lineStarts, d.range.start).line + 1,
      text: source.text.slice(d.range.start, d.range.end),
      message: d.message,
    };
  });
}

/** The findings with one of the given codes. */
export function findings(files: Record<string, string>, ...codes: string[]): Finding[] {
  return validate(files).filter((f) => codes.includes(f.code));
}

/** A Mesh of one namespace: `name: [labels...]` per service, one workload per label set. */
export function mesh(services: Record<string, Record<string, string>[]>, namespace = 'default'): string {
  let port = 7000;
  const lines = Object.entries(services).map(([name, workloads]) => `    - name: ${name}
      port: 8080
      workloads:
${workloads.map((labels, i) => `        - { name: ${name}-${i + 1}, labels: ${JSON.stringify(labels)}, port: ${++port} }`).join('\n')}`);
  return `apiVersion: devmesh.dev/v1alpha1
kind: Mesh
metadata: { name: test }
spec:
  namespace: ${namespace}
  services:
${lines.join('\n')}
`;
}
