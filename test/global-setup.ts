/**
 * vitest globalSetup: fails the whole run at once, with the fix, when a server or tool the
 * integration tests start is not installed. Tests never skip for a missing server.
 * Keep this list in step with scripts/test.sh, which installs them.
 */
import { accessSync, constants, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** command on PATH, or an absolute path (sbin is not on every PATH) → Debian package that provides it */
const NEEDED: Record<string, string> = {
  'docker-registry': 'docker-registry',
  skopeo: 'skopeo',
  openssl: 'openssl',
  ruby: 'ruby',
  ssh: 'openssh-client',
  '/usr/sbin/sshd': 'openssh-server',
  '/usr/sbin/dockerd': 'docker.io',
  '/bin/busybox': 'busybox-static',
};

export function onPath(command: string): boolean {
  if (command.startsWith('/')) return executable(command);
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    if (!dir) return false;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** PostgreSQL's server binaries are not on PATH in Debian: /usr/lib/postgresql/<version>/bin. */
function postgresInstalled(): boolean {
  try {
    return readdirSync('/usr/lib/postgresql').some((v) => {
      try {
        accessSync(join('/usr/lib/postgresql', v, 'bin', 'initdb'), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

export default function setup(): void {
  const missing = Object.keys(NEEDED).filter((cmd) => !onPath(cmd));
  if (!postgresInstalled()) {
    missing.push('initdb');
    NEEDED['initdb'] = 'postgresql';
  }
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((cmd) => NEEDED[cmd]))].join(' ');
  throw new Error(
    `The integration tests need ${missing.join(', ')} on PATH, and they are missing. ` +
      `Run the tests with \`npm test\` (scripts/test.sh installs them as root), or install them yourself: ` +
      `apt-get update && apt-get install -y --no-install-recommends ${packages}`,
  );
}
