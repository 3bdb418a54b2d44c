/** `--service name=port:command` (repeatable): a service the user names on the command line. */
import { commandWords, type FoundService } from './project';

export class ServiceFlagError extends Error {}

const FORM = '--service name=port[:command], e.g. --service api=3000:"node server.js"';

export function parseServiceFlag(value: string): FoundService {
  const m = /^([^=]*)=(\d+)(?::(.*))?$/s.exec(value.trim());
  if (!m) throw new ServiceFlagError(`"${value}" is not of the form ${FORM}`);
  const [, name, portText, command] = m;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63) {
    throw new ServiceFlagError(`service name "${name}" in "${value}": use lowercase letters, digits and "-" (a DNS label, as Kubernetes names services)`);
  }
  const port = Number(portText);
  if (port < 1 || port > 65535) throw new ServiceFlagError(`port ${portText} in "${value}" is not between 1 and 65535`);
  const words = command?.trim() ? commandWords(command) : undefined;
  return {
    name, port, listen: { port, fixed: !words }, protocol: 'http',
    ...(words ? { command: words } : {}),
    origin: '--service',
  };
}
