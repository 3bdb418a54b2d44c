/** What `devmesh import` could not bring down to the laptop, or brought with a change. */
export type ImportNoteCode =
  | 'unreadable'   // a YAML document that does not parse
  | 'unmapped'     // an object devmesh has no place for (DaemonSet, CronJob, Ingress, ...)
  | 'namespace'    // objects outside the namespace the Mesh runs
  | 'headless'     // clusterIP: None
  | 'no-selector'  // Service without a selector (hand-managed endpoints) or ExternalName
  | 'extra-port'   // Service ports beyond the first
  | 'protocol'     // a protocol devmesh does not simulate as such, or none declared
  | 'no-workload'  // a Service whose selector matches no Deployment/StatefulSet, or a workload no Service selects
  | 'shared-workload' // a workload selected by several Services
  | 'port'         // targetPort / local port choices
  | 'env'          // env from Secrets/ConfigMaps/fields
  | 'containers'   // more than one app container
  | 'replicas'     // more than one replica
  | 'statefulset'  // no stable identity or storage locally
  | 'mesh-config'  // extensionProviders taken from an IstioOperator or the istio ConfigMap
  | 'gateway'      // a pod that runs only an Istio proxy: devmesh's ingress plays it
  | 'no-service'   // a workload no Service selects (listed under spec.workloads)
  | 'topology'     // node topology labels added to a pod's workload, as Istio adds them
  | 'not-simulated'; // an Istio resource copied as written that devmesh does not run locally

export interface ImportNote {
  severity: 'warning' | 'info';
  code: ImportNoteCode;
  message: string;
}
