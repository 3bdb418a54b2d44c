/**
 * Kubernetes objects checked against the Kubernetes API's OpenAPI schemas,
 * through kubernetes-models (generated from the API's own spec, validated with
 * ajv; no network). An object of a kind without a model here is itself a
 * finding: export must never write what it could not check.
 */
import type { KubeObject } from './kubernetes';

interface Validatable { validate(): void }
type ModelClass = new (data: any) => Validatable;

// Loaded on first use, one model file each (the package's v1 index costs ~300 ms),
// so commands that never export do not pay for them.
let models: Record<string, ModelClass> | undefined;
function loadModels(): Record<string, ModelClass> {
  models ??= {
    'v1/Namespace': require('kubernetes-models/v1/Namespace').Namespace,
    'v1/Service': require('kubernetes-models/v1/Service').Service,
    'v1/ServiceAccount': require('kubernetes-models/v1/ServiceAccount').ServiceAccount,
    'apps/v1/Deployment': require('kubernetes-models/apps/v1/Deployment').Deployment,
    'apps/v1/StatefulSet': require('kubernetes-models/apps/v1/StatefulSet').StatefulSet,
  };
  return models;
}

export interface SchemaProblem {
  object: string;
  message: string;
}

export function validateKubernetesObjects(objects: readonly KubeObject[]): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  for (const o of objects) {
    const id = `${o.kind} ${o.metadata?.name ?? '(no name)'}`;
    const Model = loadModels()[`${o.apiVersion}/${o.kind}`];
    if (!Model) {
      problems.push({ object: id, message: `no Kubernetes schema for ${o.apiVersion} ${o.kind}` });
      continue;
    }
    try {
      new Model(structuredClone(o)).validate();
    } catch (err) {
      problems.push({ object: id, message: (err as Error).message });
    }
  }
  return problems;
}
