/** What export tells the user besides the manifests: things that do not carry over, or behave differently. */
export type ExportFindingCode =
  | 'local-command'       // command/cwd: the container runs its image instead
  | 'pinned-sidecar'      // sidecar ports: Envoy's ports are fixed by Istio
  | 'runtime-faults'      // faults injected with `devmesh fault` live only in the running mesh
  | 'loopback-env'        // env values that point at 127.0.0.1/localhost
  | 'telemetry'           // OTLP endpoint / sampling: configure Istio's Telemetry API instead
  | 'trust-domain'        // the cluster's trust domain must match
  | 'compatibility-version' // the Istio install must use the same compatibilityVersion
  | 'mesh-config'         // the Istio install must carry the same meshConfig fields
  | 'tcp-tunnel'          // tcpTunnel h2: Istio's sidecars use an mTLS connection per TCP connection
  | 'no-gateway'          // Host-based ingress fallback has no cluster equivalent
  | 'gateway-selector'    // the Gateway must select the cluster's ingress gateway pods
  | 'gateway-port'        // the Gateway port vs the local ingress port
  | 'not-simulated-kind'  // an Istio kind devmesh does not simulate, copied as is
  | 'other-namespace'     // a policy that names a namespace other than the Mesh's
  | 'namespace-reference' // a policy that names the Mesh's namespace while exporting to another
  | 'image-map'           // an image-map entry that names no workload
  | 'jwks-inlined'        // a RequestAuthentication's JWKS file, carried inline
  | 'loopback-jwks'       // a jwksUri on 127.0.0.1: istiod cannot fetch it there
  | 'extension-providers' // the Mesh's extensionProviders, written as mesh config
  | 'loopback-authorizer' // an external authorizer that is a local process
  | 'gateway-api-crds'    // Gateway API resources need the Gateway API CRDs on the cluster (Istio does not install them)
  | 'gateway-api-experimental' // fields of the Gateway API's experimental channel (HTTPRoute retry, ...)
  | 'gateway-certificate'; // an HTTPS listener's certificate: a Secret to apply too, or one devmesh minted

export interface ExportFinding {
  severity: 'warning' | 'info';
  code: ExportFindingCode;
  message: string;
}
