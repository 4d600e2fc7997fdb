#!/usr/bin/env bash
# What `npm run bench` runs: installs what the benchmarks need, then runs each one.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh docker-registry:docker-registry skopeo:skopeo
npx tsx bench/drift.ts "$@"
