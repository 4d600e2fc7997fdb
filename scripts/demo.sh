#!/usr/bin/env bash
# What `npm run demo` runs: installs what it needs, then tells the story in scripts/demo.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh docker-registry:docker-registry ruby:ruby ssh:openssh-client /usr/sbin/sshd:openssh-server /usr/sbin/dockerd:docker.io
npx tsx scripts/demo.ts
