import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('lsp')
    .description('start the language server for policy files (diagnostics, completion, hover, go to definition, quick fixes)')
    .option('--stdio', 'speak LSP over stdin/stdout (the default)')
    .option('--node-ipc', 'speak LSP over the Node IPC channel (VS Code)')
    .option('--clientProcessId <pid>', 'accepted for editors that pass it; unused')
    .allowUnknownOption()
    .addHelpText('after', `
Editors start it themselves; for Neovim:
  vim.lsp.start({ name = 'devmesh', cmd = { 'devmesh', 'lsp', '--stdio' }, root_dir = vim.fn.getcwd() })`)
    .action(async (opts: { nodeIpc?: boolean }) => {
      const { createServerConnection, startServer } = await import('../../language-server/server');
      startServer(createServerConnection(opts.nodeIpc ? 'ipc' : 'stdio'));
      // The connection keeps the process alive until the editor sends `exit` or closes stdin.
    });
}
