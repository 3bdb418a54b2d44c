/** Files the editor scenarios add to a demo mesh: one broken policy, one YAML that is not a policy. */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

export const BROKEN_POLICY = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews-broken
spec:
  hosts: [reviews]
  http:
    - route:
        - destination:
            host: reviews
            subset: nosuchsubset
`;

export function addEditorFixtures(dir: string, settings: Record<string, unknown> = {}): string {
  mkdirSync(path.join(dir, 'policies'), { recursive: true });
  const broken = path.join(dir, 'policies', 'broken.yaml');
  writeFileSync(broken, BROKEN_POLICY);
  writeFileSync(path.join(dir, 'not-a-policy.yaml'), 'name: build\non: [push]\njobs: {}\n');
  mkdirSync(path.join(dir, '.vscode'), { recursive: true });
  writeFileSync(path.join(dir, '.vscode', 'settings.json'), JSON.stringify(settings, null, 2));
  return broken;
}
