#!/usr/bin/env bash
# What `npm run demo` runs: installs what it needs, then tells the story in scripts/demo.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh docker-registry:docker-registry
npx tsx scripts/demo.ts
