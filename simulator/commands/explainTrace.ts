/** `devmesh explain --trace <id>`: filled in with the live decision records. */
export async function explainTrace(_traceId: string, _file: string, _format: string): Promise<number> {
  process.stderr.write('devmesh explain: --trace is not available yet\n');
  return 2;
}
