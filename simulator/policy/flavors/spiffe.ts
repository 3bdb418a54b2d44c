/** SPIFFE ids in certificates, as every flavor devmesh follows carries them (a URI SAN `spiffe://...`). */

/** `URI:spiffe://td/ns/x/sa/y, DNS:...` -> the first SPIFFE URI. */
export function firstSpiffeUri(san: string | undefined): string | undefined {
  if (!san) return undefined;
  for (const part of san.split(',')) {
    const p = part.trim();
    if (p.startsWith('URI:spiffe://')) return p.slice(4);
  }
  return undefined;
}
