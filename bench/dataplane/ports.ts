import { freePorts } from '../../simulator/control/ports';

/** A port the kernel just handed out and we released (racy in theory, fine on a quiet loopback). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}
