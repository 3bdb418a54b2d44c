/**
 * ServiceEntry `addresses`: a call or connection to an IP (or into a CIDR
 * block) a ServiceEntry lists, on one of its ports, is that entry's, as
 * Istio's listeners on those addresses make it (a TCP port's listener is
 * bound to the address; an HTTP port's virtual host carries it). The first
 * entry of the registry with the address and the port wins. Computed once
 * per compiled tables.
 */
import * as net from 'node:net';
import type { ServiceInfo } from '../../protocol';
import type { MeshTables } from '../tables';
import { portsOf } from './servicePorts';

interface AddressedEntry {
  service: ServiceInfo;
  block: net.BlockList;
}

const cache = new WeakMap<MeshTables, AddressedEntry[]>();

function addressedEntries(t: MeshTables): AddressedEntry[] {
  let found = cache.get(t);
  if (found) return found;
  found = [];
  for (const service of t.registry) {
    const addresses = service.entry?.addresses ?? [];
    if (addresses.length === 0) continue;
    const block = new net.BlockList();
    for (const a of addresses) {
      const [ip, bits] = a.split('/');
      const type = net.isIP(ip) === 6 ? 'ipv6' : net.isIP(ip) === 4 ? 'ipv4' : undefined;
      // validate refuses what is neither; a snapshot that still has one skips it.
      if (!type) continue;
      if (bits === undefined) block.addAddress(ip, type);
      else if (/^\d+$/.test(bits)) block.addSubnet(ip, Number(bits), type);
    }
    found.push({ service, block });
  }
  cache.set(t, found);
  return found;
}

/** The ServiceEntry service whose `addresses` hold `ip` and whose ports have `port` (any port when none is given). */
export function entryAtAddress(t: MeshTables, ip: string, port: number | undefined): ServiceInfo | undefined {
  const bare = ip.replace(/^\[|\]$/g, '');
  const type = net.isIP(bare);
  if (type === 0) return undefined;
  return addressedEntries(t).find((e) => e.block.check(bare, type === 6 ? 'ipv6' : 'ipv4') && (port === undefined || portsOf(e.service).some((p) => p.port === port)))?.service;
}
