import type { Kind } from '../model';
import { authorizationPolicySchema } from './authorization-policy';
import type { Schema } from './common';
import { destinationRuleSchema } from './destination-rule';
import { gatewaySchema } from './gateway';
import { grpcRouteSchema, httpRouteSchema, kubernetesGatewaySchema, referenceGrantSchema, tcpRouteSchema, tlsRouteSchema } from './gateway-api';
import { meshSchema } from './mesh';
import { peerAuthenticationSchema } from './peer-authentication';
import { requestAuthenticationSchema } from './request-authentication';
import { serviceEntrySchema, workloadEntrySchema } from './service-entry';
import { sidecarSchema } from './sidecar';
import { telemetrySchema } from './telemetry';
import { virtualServiceSchema } from './virtual-service';

export type { Schema } from './common';

/** The one schema source: validation, completion and hover all read these. */
export const SCHEMAS: Record<Kind, Schema> = {
  Mesh: meshSchema,
  VirtualService: virtualServiceSchema,
  DestinationRule: destinationRuleSchema,
  Gateway: gatewaySchema,
  PeerAuthentication: peerAuthenticationSchema,
  AuthorizationPolicy: authorizationPolicySchema,
  RequestAuthentication: requestAuthenticationSchema,
  ServiceEntry: serviceEntrySchema,
  WorkloadEntry: workloadEntrySchema,
  Sidecar: sidecarSchema,
  Telemetry: telemetrySchema,
  HTTPRoute: httpRouteSchema,
  GRPCRoute: grpcRouteSchema,
  TLSRoute: tlsRouteSchema,
  TCPRoute: tcpRouteSchema,
  KubernetesGateway: kubernetesGatewaySchema,
  ReferenceGrant: referenceGrantSchema,
};

/**
 * The schema that describes the value at `path` inside a document of `kind`,
 * following properties, map values and array items.
 */
export function schemaAt(kind: Kind, path: readonly (string | number)[]): Schema | undefined {
  let s: Schema | undefined = SCHEMAS[kind];
  for (const seg of path) {
    if (!s) return undefined;
    if (typeof seg === 'number') {
      s = s.items;
    } else if (s.properties && Object.prototype.hasOwnProperty.call(s.properties, seg)) {
      s = s.properties[seg];
    } else if (s.additionalProperties && typeof s.additionalProperties === 'object') {
      s = s.additionalProperties;
    } else if (s.items && s.items.properties?.[seg]) {
      s = s.items.properties[seg];
    } else {
      return undefined;
    }
  }
  return s;
}
