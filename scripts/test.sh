#!/usr/bin/env bash
# What `npm test` runs: installs what the tests need, builds, checks format and lint (Biome: import
# cycles, unused code; knip: unused files, exports and dependencies), then runs vitest (arguments go
# to vitest).
# The Debian packages here are the servers and tools the integration tests start; keep
# test/global-setup.ts, which checks the same things before any test runs, in step.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh \
  docker-registry:docker-registry \
  skopeo:skopeo \
  openssl:openssl \
  ruby:ruby \
  '/usr/lib/postgresql/*/bin/initdb:postgresql'
npx --no-install biome check
npx --no-install knip --no-progress
npx vitest run "$@"
