import type { ProjectFiles } from '../../simulator/init';

/** A project held in memory: file paths with `/` -> text; folders are implied by the paths. */
export function project(files: Record<string, string>): ProjectFiles {
  return {
    read: (file) => files[file],
    folders: (dir) => {
      const prefix = dir ? `${dir}/` : '';
      const subs = new Set<string>();
      for (const f of Object.keys(files)) {
        if (!f.startsWith(prefix)) continue;
        const rest = f.slice(prefix.length).split('/');
        if (rest.length > 1) subs.add(rest[0]);
      }
      return [...subs].sort();
    },
  };
}

export const pkg = (scripts: Record<string, string>, extra: Record<string, unknown> = {}) => JSON.stringify({ ...extra, scripts });
