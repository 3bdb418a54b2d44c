/** Validation of one policy file beside a Mesh, as the rule tests read it. */
import { Workspace, offsetToPosition, type Diagnostic } from '../../simulator/policy';

/** Diagnostics of `/m/p.yaml` beside `/m/mesh.yaml`, each with its 1-based line. */
export function checkBeside(mesh: string, policy: string): (Diagnostic & { line: number })[] {
  const ws = new Workspace();
  ws.setFile('/m/mesh.yaml', mesh);
  ws.setFile('/m/p.yaml', policy);
  const lines = ws.getSource('/m/p.yaml')!.lineStarts;
  return ws.diagnostics().filter((d) => d.file === '/m/p.yaml').map((d) => ({ ...d, line: offsetToPosition(lines, d.range.start).line + 1 }));
}

/** Findings as `code@line`. */
export const codes = (ds: { code: string; line: number }[]) => ds.map((d) => `${d.code}@${d.line}`);

/** Diagnostics of a Mesh file `/m/mesh.yaml` alone, each with its 0-based position. */
export function diagnoseMesh(text: string) {
  const ws = new Workspace();
  ws.setFile('/m/mesh.yaml', text);
  const lines = ws.getSource('/m/mesh.yaml')!.lineStarts;
  return ws.diagnostics().map((d) => ({ ...d, at: offsetToPosition(lines, d.range.start) }));
}
