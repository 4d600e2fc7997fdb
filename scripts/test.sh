#!/usr/bin/env bash
# What `npm test` runs: installs what the tests need, builds, runs vitest (arguments go to vitest).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the integration tests need, as "command:package". Add new servers here
# (and to test/global-setup.ts, which checks the same commands before any test runs).
DEBIAN_NEEDS=(
  docker-registry:docker-registry
  skopeo:skopeo
  openssl:openssl
)

if [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci
fi

missing=()
for need in "${DEBIAN_NEEDS[@]}"; do
  command -v "${need%%:*}" >/dev/null 2>&1 || missing+=("${need#*:}")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
  else
    echo "The tests need these Debian packages: ${missing[*]}" >&2
    echo "Install them as root:  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

npm run build
npx vitest run "$@"
