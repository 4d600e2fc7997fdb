#!/usr/bin/env bash
# What `npm run bench` runs: installs what the benchmarks need (the registry, skopeo, PostgreSQL),
# builds, then runs each benchmark in bench/. Each prints its table with its targets and
# PASS or MISS beside each figure, and the end prints every target in one table; a benchmark that cannot run fails the script (after the others ran).
# Arguments go to every benchmark (e.g. --runs 5).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh \
  docker-registry:docker-registry \
  skopeo:skopeo \
  ssh:openssh-client \
  /usr/sbin/sshd:openssh-server \
  /usr/sbin/dockerd:docker.io \
  '/usr/lib/postgresql/*/bin/initdb:postgresql'

# the benchmarks run kamal-gate on Node 22 (bench/common.ts NODE), installed here as the tests install it
if [[ ! -d .ci/runtimes/node_modules || .ci/runtimes/package-lock.json -nt .ci/runtimes/node_modules/.package-lock.json ]]; then
  npm ci --prefix .ci/runtimes --no-audit --no-fund
fi

summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
export KAMAL_GATE_BENCH_SUMMARY=$summary

failed=()
for bench in startup verify skopeo-resolve drift ledger hosts; do
  echo
  echo "== bench/$bench.ts"
  started=$SECONDS
  if npx --no-install tsx "bench/$bench.ts" "$@"; then
    echo "(bench/$bench.ts took $((SECONDS - started)) s)"
  else
    failed+=("$bench")
  fi
done

echo
echo "== every target, beside its peer measured in the same run"
node scripts/bench-summary.mjs "$summary"

if ((${#failed[@]})); then
  echo >&2
  echo "benchmarks that could not run: ${failed[*]}" >&2
  exit 1
fi
