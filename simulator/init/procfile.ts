/**
 * A Procfile's process types (Heroku, foreman, honcho): `web: <command>`.
 * Processes that serve (the `web` type, or any command that reads $PORT)
 * become services on foreman's ports (5000, 5100, ...); the others (workers,
 * release tasks) listen on no port, so they are noted and left out.
 */
import { commandWords, dnsLabel, type Found } from './project';

export function fromProcfile(text: string, file = 'Procfile'): Found {
  const found: Found = { services: [], notes: [] };
  const lines = text.split(/\r?\n/).map((l) => /^([A-Za-z0-9_-]+):\s*(.+)$/.exec(l.trim())).filter((m) => m !== null);
  lines.forEach(([, type, command], i) => {
    if (type !== 'web' && !/\$\{?PORT\b/.test(command)) {
      found.notes.push({ severity: 'info', message: `${file}: "${type}" listens on no $PORT, so it is not a service; run it yourself (it can call the mesh through HTTP_PROXY)` });
      return;
    }
    const port = 5000 + 100 * i;
    found.services.push({ name: dnsLabel(type), port, listen: { port }, protocol: 'http', command: commandWords(command), origin: file });
  });
  return found;
}
