-- An independent LSP client: headless Neovim (0.7+) starts `devmesh lsp
-- --stdio`, opens one policy file, waits for its diagnostics, asks for a
-- hover and a completion, and writes what it received as JSON lines to
-- $DEVMESH_OUT. Exit status 0 when diagnostics arrived, 1 otherwise.
local file = assert(vim.env.DEVMESH_FILE, 'DEVMESH_FILE')
local out_path = assert(vim.env.DEVMESH_OUT, 'DEVMESH_OUT')
local timeout = tonumber(vim.env.DEVMESH_TIMEOUT or '15000')
local out = assert(io.open(out_path, 'w'))
local function emit(tbl) out:write(vim.fn.json_encode(tbl) .. '\n'); out:flush() end

vim.cmd('edit ' .. vim.fn.fnameescape(file))
local bufnr = vim.api.nvim_get_current_buf()
vim.bo[bufnr].filetype = 'yaml'

local client_id = vim.lsp.start_client({
  name = 'devmesh',
  cmd = { vim.env.DEVMESH_NODE or 'node', vim.env.DEVMESH_BIN, 'lsp', '--stdio' },
  root_dir = vim.env.DEVMESH_ROOT,
  on_exit = function(code, signal) emit({ event = 'exit', code = code, signal = signal }) end,
})
if not client_id then emit({ event = 'fail', reason = 'could not start the server' }); out:close(); vim.cmd('cquit 2') end
vim.lsp.buf_attach_client(bufnr, client_id)

local got = vim.wait(timeout, function() return #vim.diagnostic.get(bufnr) > 0 end, 20)
for _, d in ipairs(vim.diagnostic.get(bufnr)) do
  emit({ event = 'diagnostic', lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col, severity = d.severity,
         code = d.code or (d.user_data and d.user_data.lsp and d.user_data.lsp.code), source = d.source, message = d.message })
end

-- A hover and a completion at the cursor position the test names (0-based line, character).
local line, character = tonumber(vim.env.DEVMESH_LINE or '0'), tonumber(vim.env.DEVMESH_CHAR or '0')
local params = { textDocument = { uri = vim.uri_from_bufnr(bufnr) }, position = { line = line, character = character } }
local hover = vim.lsp.buf_request_sync(bufnr, 'textDocument/hover', params, 5000) or {}
for _, r in pairs(hover) do
  if r.result and r.result.contents then emit({ event = 'hover', value = r.result.contents.value }) end
end
local completion = vim.lsp.buf_request_sync(bufnr, 'textDocument/completion', params, 5000) or {}
for _, r in pairs(completion) do
  local items = r.result and (r.result.items or r.result) or {}
  local labels = {}
  for _, item in ipairs(items) do table.insert(labels, item.label) end
  emit({ event = 'completion', labels = labels })
end

local client = vim.lsp.get_client_by_id(client_id)
if client then client.stop() end
vim.wait(2000, function() return vim.lsp.get_client_by_id(client_id) == nil end, 20)
out:close()
if got then vim.cmd('qall!') else vim.cmd('cquit 1') end
