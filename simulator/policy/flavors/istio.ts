/**
 * Istio: its defaults table (policy/defaults/istio.ts), its SPIFFE form
 * `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>` with principals
 * written without `spiffe://` (istio/api security/v1beta1/authorization.proto
 * `principals`), and every kind devmesh models.
 */
import { ISTIO } from '../defaults/istio';
import { principalOf, spiffeId } from '../hosts';
import { KINDS } from '../kinds';
import type { FlavorProfile, IdentityFormat } from './types';
import { firstSpiffeUri } from './spiffe';

const NAMESPACE = /\/ns\/([^/]+)\/sa\//;
const SERVICE_ACCOUNT = /\/ns\/([^/]+)\/sa\/([^/]+)$/;
const PRINCIPAL = /^([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/;

export const ISTIO_IDENTITY: IdentityFormat = {
  principalForm: '<trustDomain>/ns/<namespace>/sa/<serviceAccount>',
  mint: spiffeId,
  fromSan: firstSpiffeUri,
  principal: principalOf,
  namespace(id) {
    const m = id ? NAMESPACE.exec(id) : null;
    return m ? m[1] : undefined;
  },
  serviceAccount(principal) {
    const m = SERVICE_ACCOUNT.exec(principal);
    return m ? `${m[1]}/${m[2]}` : undefined;
  },
  parsePrincipal(principal) {
    const m = PRINCIPAL.exec(principal);
    return m ? { trustDomain: m[1], namespace: m[2], serviceAccount: m[3] } : undefined;
  },
};

export const ISTIO_PROFILE: FlavorProfile = {
  name: 'istio',
  defaults: ISTIO,
  identity: ISTIO_IDENTITY,
  kinds: {
    applies: new Set(KINDS),
    refusal: (kind) => `${kind} is not applied by the istio flavor`,
  },
};
