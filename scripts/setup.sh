#!/usr/bin/env bash
# Installs what kamal-gate's tests and demo need when it is missing: npm packages (npm ci) and the
# Debian packages named as "check:package" arguments. A check is a command on PATH, or an absolute
# path (glob allowed) that must exist, e.g. "docker-registry:docker-registry" or
# "/usr/lib/postgresql/*/bin/initdb:postgresql". Then builds the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

# A node_modules that is a symlink is an install shared with another checkout of the repository:
# npm ci would empty it through the link under whoever else is using it, so it is left alone.
if [[ ! -L node_modules ]] && [[ ! -d node_modules || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi

missing=()
for need in "$@"; do
  check=${need%%:*}
  if [[ $check == /* ]]; then
    compgen -G "$check" >/dev/null || missing+=("${need#*:}")
  else
    command -v "$check" >/dev/null 2>&1 || missing+=("${need#*:}")
  fi
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    echo "kamal-gate needs these Debian packages: ${missing[*]}" >&2
    echo "Install them as root:  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

npm run build --silent
