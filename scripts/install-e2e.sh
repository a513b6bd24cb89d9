#!/usr/bin/env bash
# Installs what the end-to-end suite (npm run test:e2e) needs: code-server 4.100.3 (VS Code 1.100.3)
# under .e2e/ with its native modules built here, and Debian's chromium, ripgrep and libkrb5-dev.
# code-server's own install scripts download prebuilt binaries, which this machine cannot fetch, so
# it is installed with --ignore-scripts and its native modules are built with node-gyp instead
# (shared/design.md, "Testing with real parts"). Idempotent: a finished install is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=4.100.3
PREFIX="$PWD/.e2e"
CS="$PREFIX/node_modules/code-server"
VSCODE="$CS/lib/vscode"
DONE="$PREFIX/.installed-$VERSION"
NODE_GYP=/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js

log() { echo "install-e2e: $*" >&2; }

apt_packages() {
  local missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v rg >/dev/null || missing+=(ripgrep)
  [ -f /usr/include/krb5.h ] || [ -f /usr/include/krb5/krb5.h ] || missing+=(libkrb5-dev)
  command -v g++ >/dev/null || missing+=(g++)
  command -v make >/dev/null || missing+=(make)
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" -ne 0 ]; then log "missing ${missing[*]}; run as root or: apt-get install -y ${missing[*]}"; exit 1; fi
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

node_gyp_path() {
  [ -f "$NODE_GYP" ] && { echo "$NODE_GYP"; return; }
  local npm_dir; npm_dir="$(dirname "$(readlink -f "$(command -v npm)")")/.."
  echo "$npm_dir/node_modules/node-gyp/bin/node-gyp.js"
}

# Node's headers: Debian's nodejs keeps them under /usr/include/node; otherwise the running node's prefix.
node_dir() {
  if [ -f /usr/include/node/node.h ]; then echo /usr; else dirname "$(dirname "$(readlink -f "$(command -v node)")")"; fi
}

rebuild() {
  local dir="$1"; shift
  [ -d "$dir" ] || { log "skipping $dir (not installed)"; return; }
  log "building $(basename "$dir")"
  (cd "$dir" && node "$(node_gyp_path)" rebuild --nodedir="$(node_dir)" "$@" >/dev/null 2>"$PREFIX/gyp-$(basename "$dir").log") \
    || { log "node-gyp failed in $dir, see $PREFIX/gyp-$(basename "$dir").log"; exit 1; }
}

install_code_server() {
  mkdir -p "$PREFIX"
  [ -f "$PREFIX/package.json" ] || echo '{ "private": true }' > "$PREFIX/package.json"
  log "installing code-server@$VERSION"
  npm install --prefix "$PREFIX" --ignore-scripts --no-audit --no-fund --loglevel=error "code-server@$VERSION"
  log "installing VS Code's own dependencies"
  (cd "$VSCODE" && npm install --ignore-scripts --omit=dev --no-audit --no-fund --loglevel=error)
  local m="$VSCODE/node_modules"
  for mod in node-pty @parcel/watcher @vscode/spdlog native-watchdog kerberos @vscode/deviceid; do rebuild "$m/$mod"; done
  # code-server's own argon2 (password hashing; loaded even with --auth none).
  local argon2; argon2="$(dirname "$(node -p "require.resolve('argon2/package.json', { paths: ['$CS'] })")")"
  rebuild "$argon2" --module_name=argon2 --module_path=lib/binding/napi-v3 --napi_build_version=3
  if [ -d "$argon2" ]; then mkdir -p "$argon2/lib/binding/napi-v3" && cp "$argon2/build/Release/argon2.node" "$argon2/lib/binding/napi-v3/"; fi
  mkdir -p "$m/@vscode/ripgrep/bin"
  cp "$(command -v rg)" "$m/@vscode/ripgrep/bin/rg"
  touch "$DONE"
}

apt_packages
if [ -f "$DONE" ]; then log "code-server $VERSION already installed in $PREFIX"; else install_code_server; fi
