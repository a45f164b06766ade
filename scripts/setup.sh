#!/usr/bin/env bash
# Installs everything dsv32 needs to build and test on Debian 12 (run as root, or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."

debian_packages=(
  build-essential cmake ninja-build pkg-config
  nlohmann-json3-dev libfmt-dev libspdlog-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
)
# Extra packages other layers need are listed one per line in scripts/packages/*.txt.
for list in scripts/packages/*.txt; do
  [ -e "$list" ] || continue
  while read -r pkg; do [ -n "$pkg" ] && debian_packages+=("$pkg"); done < <(grep -v '^#' "$list")
done

missing=()
for pkg in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Further setup steps of other layers (npm packages, data files) live in scripts/setup.d/*.sh.
for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  bash "$step"
done
