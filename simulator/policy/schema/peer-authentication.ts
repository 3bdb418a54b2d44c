import { API_VERSIONS } from '../kinds';
import { enumOf, map, object, resource, workloadSelector, type Schema } from './common';

const mode = (scope: string): Schema => enumOf(`mTLS mode ${scope}. UNSET inherits from the parent (namespace, then mesh; the mesh default is PERMISSIVE).`,
  ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']);

export const peerAuthenticationSchema: Schema = resource('PeerAuthentication', API_VERSIONS.PeerAuthentication,
  'Whether a workload accepts mutual TLS, plaintext, or both. Applied at the inbound sidecar.',
  object('PeerAuthentication', 'Defines how traffic will be tunneled (or not) to the sidecar.', {
    selector: workloadSelector('PeerAuthentication'),
    mtls: object('MutualTLS', 'Mutual TLS settings for the workload.', {
      mode: mode('for the selected workloads'),
    }),
    portLevelMtls: map('Port specific mutual TLS settings (keys are workload port numbers). Requires a selector.',
      object('MutualTLS', 'Mutual TLS settings for one port.', { mode: mode('for this port') })),
  }));
