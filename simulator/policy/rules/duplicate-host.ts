import type { WorkspaceRule } from './rule';
import { gatewaysOf } from './destinations';
import { arr, obj, str } from '../workspace-index';

/** Two VirtualServices for one host on the same gateway: which one applies is undefined (IST0109, KIA1106). */
export const duplicateHost: WorkspaceRule = {
  codes: ['duplicate-host'],
  check(index, report) {
    const seen = new Map<string, { name: string; file: string }>();
    for (const vs of index.byKind.VirtualService) {
      const spec = obj(vs.value.spec);
      for (const gw of gatewaysOf(vs)) {
        arr(spec.hosts).forEach((h, i) => {
          const host = str(h);
          if (!host) return;
          const key = `${gw}|${index.fqdn(host, vs)}`;
          const first = seen.get(key);
          if (!first) {
            seen.set(key, { name: vs.name, file: vs.file });
          } else if (first.name !== vs.name || first.file !== vs.file) {
            report(vs, ['spec', 'hosts', i], 'duplicate-host',
              `VirtualService "${first.name}" (${first.file}) already routes host "${host}" for ${gw === 'mesh' ? 'the sidecars' : `gateway ${gw}`}; only one of them would apply: merge the rules into one VirtualService (IST0109)`);
          }
        });
      }
    }
  },
};
