#!/usr/bin/env bash
# Installs the npm openai SDK (pinned by tests/e2e/package-lock.json) that the end-to-end server
# tests run ../shared/clients/node_openai.mjs with. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends nodejs npm
fi
if [ ! -f tests/e2e/node_modules/openai/package.json ]; then
  npm ci --prefix tests/e2e --no-audit --no-fund --silent
fi
