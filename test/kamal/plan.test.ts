import { describe, expect, it } from 'vitest';
import { readDeployPlan } from '../../src/kamal/index.js';
import { redact } from '../../src/redact.js';
import type { DeployPlan, Target } from '../../src/types.js';
import { configError, fixture, project } from './helpers.js';

/** What Kamal 2 requires beyond the keys a test is about (hosts and `builder.arch`), appended so no line moves. */
const HOSTS_AND_ARCH = 'servers:\n  - 1.1.1.1\nbuilder:\n  arch: amd64\n';
/** A registry Kamal accepts (Docker Hub, with the password read as a secret). */
const REGISTRY = 'registry:\n  username: u\n  password: [KAMAL_REGISTRY_PASSWORD]\n';

const byRole = (plan: DeployPlan, role: Target['role']) => plan.targets.filter((t) => t.role === role);
/** Everything in a plan a user or log could see, except the password fields themselves. */
const visible = (plan: DeployPlan) => JSON.stringify(plan, (k, v) => (k === 'password' ? undefined : v));

describe('readDeployPlan: Rails 8 template (Docker Hub, [KAMAL_REGISTRY_PASSWORD])', () => {
  const cwd = fixture('rails8');

  it('forms the app ref without a registry host, and the latest alias Kamal pushes beside it', async () => {
    const plan = await readDeployPlan({ cwd, version: 'v1.2.3', env: { KAMAL_REGISTRY_PASSWORD: 'dckr_pat_rails8' } });
    expect(plan).toMatchObject({ configFile: 'config/deploy.yml', service: 'storefront', version: 'v1.2.3', versionSource: '--version' });
    expect(plan.destination).toBeUndefined();
    const [app, latest, ...rest] = plan.targets;
    expect(app).toEqual({
      ref: 'your-user/storefront:v1.2.3',
      role: 'app',
      name: 'storefront',
      source: { file: 'config/deploy.yml', line: 5, column: 8 },
      platforms: [{ os: 'linux', architecture: 'amd64' }],
      credential: {
        server: '',
        username: 'your-user',
        password: 'dckr_pat_rails8',
        origin: 'secret KAMAL_REGISTRY_PASSWORD from .kamal/secrets',
      },
    });
    expect(latest).toEqual({ ...app, ref: 'your-user/storefront:latest', aliasOf: 'your-user/storefront:v1.2.3', optional: true });
    expect(rest).toEqual([]);
  });

  it('notes that the proxy image is decided on the hosts when there is no proxy.run', async () => {
    const plan = await readDeployPlan({ cwd, version: 'v1', env: { KAMAL_REGISTRY_PASSWORD: 'dckr_pat_rails8' } });
    expect(byRole(plan, 'proxy')).toEqual([]);
    expect(plan.notes).toEqual([
      'no proxy.run in the config: the kamal-proxy image is decided on each host (.kamal/proxy/image, default basecamp/kamal-proxy:v0.9.2 for Kamal 2.12); set proxy.run (registry, repository, version) to name it in the config',
    ]);
  });

  it('registers the resolved password for redaction', async () => {
    await readDeployPlan({ cwd, version: 'v1', env: { KAMAL_REGISTRY_PASSWORD: 'dckr_pat_registered_1' } });
    expect(redact('token dckr_pat_registered_1 leaked')).toBe('token *** leaked');
  });

  it('leaves the password undefined and says how to provide it when the secret resolves to nothing', async () => {
    const plan = await readDeployPlan({ cwd, version: 'v1', env: {} });
    const why =
      'registry.password names the secret KAMAL_REGISTRY_PASSWORD, which is empty in .kamal/secrets:6 because $KAMAL_REGISTRY_PASSWORD is not set in the environment; set KAMAL_REGISTRY_PASSWORD in the environment (a Kamal pre-deploy hook already has it)';
    // `missing` is what a registry that asks for credentials is told (issue 17)
    expect(plan.targets[0]!.credential).toEqual({
      server: '',
      username: 'your-user',
      password: undefined,
      origin: 'secret KAMAL_REGISTRY_PASSWORD (unresolved)',
      missing: why,
    });
    expect(plan.notes).toContain(why);
  });
});

describe('readDeployPlan: destinations, accessories and secrets', () => {
  const cwd = fixture('destinations');
  const env = { VERSION: 'abc123' };

  it('without a destination: app on the root registry, accessories as written or on their own registry', async () => {
    const plan = await readDeployPlan({ cwd, env });
    expect(plan.versionSource).toBe('VERSION');
    expect(plan.targets.map((t) => [t.role, t.name, t.ref, t.source?.file, t.source?.line])).toEqual([
      ['app', 'writebook', 'ghcr.io/acme/writebook:abc123', 'config/deploy.yml', 2],
      ['app', 'writebook', 'ghcr.io/acme/writebook:latest', 'config/deploy.yml', 2],
      ['accessory', 'db', 'postgres:16.4', 'config/deploy.yml', 29],
      ['accessory', 'search', 'harbor.example.com/acme/meilisearch:1.11', 'config/deploy.yml', 33],
    ]);
    expect(plan.targets[0]!.platforms).toEqual([
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
    ]);
    expect(plan.targets[0]!.credential).toEqual({
      server: 'ghcr.io',
      username: 'acme-bot',
      password: 'ghp_production_token_1234',
      origin: 'secret KAMAL_REGISTRY_PASSWORD from .kamal/secrets',
    });
    // Accessories never get the app's platforms; db is on Docker Hub with no credential.
    expect(plan.targets[2]!.platforms).toBeUndefined();
    expect(plan.targets[2]!.credential).toBeUndefined();
    expect(plan.targets[3]!.credential).toEqual({
      server: 'harbor.example.com',
      username: 'robot$writebook',
      password: 'harbor-common-s3cret',
      origin: 'secret HARBOR_PASSWORD from .kamal/secrets-common',
    });
  });

  it('with -d staging: overlay values, latest-staging, the staging secrets file, sources from the overlay', async () => {
    const plan = await readDeployPlan({ cwd, env, destination: 'staging' });
    expect(plan.destination).toBe('staging');
    expect(plan.targets.map((t) => [t.ref, t.source?.file, t.source?.line, t.source?.column])).toEqual([
      ['ghcr.io/acme/writebook:abc123', 'config/deploy.yml', 2, 8],
      ['ghcr.io/acme/writebook:latest-staging', 'config/deploy.yml', 2, 8],
      ['postgres:17.2', 'config/deploy.staging.yml', 13, 12],
      ['harbor.example.com/acme/meilisearch:1.11', 'config/deploy.yml', 33, 12],
    ]);
    expect(plan.targets[1]).toMatchObject({ aliasOf: 'ghcr.io/acme/writebook:abc123', optional: true });
    expect(plan.targets[0]!.platforms).toEqual([{ os: 'linux', architecture: 'arm64' }]);
    expect(plan.targets[0]!.credential).toMatchObject({
      password: 'ghp_staging_token_5678',
      origin: 'secret KAMAL_REGISTRY_PASSWORD from .kamal/secrets.staging',
    });
  });

  it('never puts a secret value in notes, origins or refs', async () => {
    for (const destination of [undefined, 'staging']) {
      const plan = await readDeployPlan({ cwd, env, destination });
      for (const secret of ['ghp_production_token_1234', 'ghp_staging_token_5678', 'harbor-common-s3cret']) {
        expect(visible(plan)).not.toContain(secret);
      }
    }
  });
});

describe('readDeployPlan: credentials from the environment, literals and ERB', () => {
  it('falls back to the environment when no secrets file has the secret', async () => {
    const dir = project({
      'config/deploy.yml': 'service: a\nimage: acme/a\nregistry:\n  server: ghcr.io\n  username:\n    - GH_USER\n  password:\n    - GH_TOKEN\n' + HOSTS_AND_ARCH,
    });
    const plan = await readDeployPlan({ cwd: dir, version: 'v1', env: { GH_USER: 'octo', GH_TOKEN: 'ghp_from_env_999' } });
    expect(plan.targets[0]!.credential).toEqual({ server: 'ghcr.io', username: 'octo', password: 'ghp_from_env_999', origin: 'environment GH_TOKEN' });
    expect(plan.notes.join('\n')).not.toContain('ghp_from_env_999');
  });

  it('falls back to the environment when the secrets file needs command substitution (a Kamal hook has it resolved)', async () => {
    const dir = project({
      'config/deploy.yml': `service: a\nimage: acme/a\nregistry:\n  username: u\n  password: [TOKEN]\n${HOSTS_AND_ARCH}`,
      '.kamal/secrets': '# from 1Password\nTOKEN=$(op read op://vault/registry/token)\n',
    });
    const hook = await readDeployPlan({ cwd: dir, version: 'v1', env: { TOKEN: 'resolved-by-kamal' } });
    expect(hook.targets[0]!.credential).toMatchObject({ password: 'resolved-by-kamal', origin: 'environment TOKEN' });

    const ci = await readDeployPlan({ cwd: dir, version: 'v1', env: {} });
    expect(ci.targets[0]!.credential).toMatchObject({ password: undefined, origin: 'secret TOKEN (unresolved)' });
    expect(ci.notes).toContain(
      'registry.password names the secret TOKEN, whose value in .kamal/secrets:2 needs command substitution, which kamal-gate never runs; set TOKEN in the environment (a Kamal pre-deploy hook already has it)',
    );
    expect(ci.notes.join('\n')).not.toContain('op read');
  });

  it('names the files it looked in when the secret is nowhere', async () => {
    const dir = project({ 'config/deploy.yml': `service: a\nimage: acme/a\nregistry:\n  username: u\n  password: [MISSING_PW]\n${HOSTS_AND_ARCH}` });
    const plan = await readDeployPlan({ cwd: dir, version: 'v1', env: {} });
    expect(plan.notes).toContain(
      'registry.password names the secret MISSING_PW, which is in no secrets file (none of .kamal/secrets-common, .kamal/secrets exists) and is not set in the environment; add MISSING_PW=$MISSING_PW to .kamal/secrets or set MISSING_PW in the environment (a Kamal pre-deploy hook already has it)',
    );
  });

  it('accepts a literal password and says where it came from, never what it is', async () => {
    const plan = await readDeployPlan({ cwd: fixture('doubled-host'), version: 'v1', env: { GHCR_TOKEN: 'ghp_doubled' } });
    const cache = plan.targets.find((t) => t.name === 'cache')!;
    expect(cache.credential).toEqual({ server: 'quay.io', username: 'acme+robot', password: 'literal-quay-password', origin: 'literal in config/deploy.yml' });
    expect(redact('x literal-quay-password y')).toBe('x *** y');
  });

  it('reads ERB ENV lookups and says a password came from the environment through ERB', async () => {
    const env = { IMAGE_OWNER: 'acme', WEB_HOST: '10.9.9.9', REGISTRY_HOST: 'registry.example.com:5000', ERB_REGISTRY_PASSWORD: 'erb-secret-77' };
    const plan = await readDeployPlan({ cwd: fixture('erb'), version: 'v9', env });
    expect(plan.service).toBe('erbapp');
    expect(plan.targets.map((t) => [t.ref, t.source?.line, t.source?.column])).toEqual([
      ['registry.example.com:5000/acme/erbapp:v9', 7, 8],
      ['registry.example.com:5000/acme/erbapp:latest', 7, 8],
      ['valkey/valkey:8.0', 29, 12],
    ]);
    expect(plan.targets[0]!.platforms).toEqual([{ os: 'linux', architecture: 'amd64' }]);
    expect(plan.targets[0]!.credential).toEqual({
      server: 'registry.example.com:5000',
      username: 'deploy-bot',
      password: 'erb-secret-77',
      origin: 'environment ERB_REGISTRY_PASSWORD (ERB in config/deploy.yml)',
    });
    expect(plan.notes).toContain('config/deploy.yml:22: ENV["REGION"] is not set, so it renders as an empty value (as in Kamal)');
    expect(visible(plan)).not.toContain('erb-secret-77');
  });

  it('needs every ENV.fetch without a default to be set', async () => {
    const e = await configError(readDeployPlan({ cwd: fixture('erb'), version: 'v9', env: {} }));
    expect(e.file).toBe('config/deploy.yml');
    expect(e.line).toBe(12);
    expect(e.message).toContain('WEB_HOST');
  });
});

describe('readDeployPlan: image forms', () => {
  it('defaults image to service with a local registry (localhost:PORT)', async () => {
    const plan = await readDeployPlan({ cwd: fixture('local-registry'), version: 'v1', env: {} });
    expect(plan.targets.slice(0, 2).map((t) => t.ref)).toEqual(['localhost:5555/hey:v1', 'localhost:5555/hey:latest']);
    expect(plan.targets[0]!.source).toEqual({ file: 'config/deploy.yml', line: 2, column: 10 });
    expect(plan.targets[0]!.platforms).toEqual([{ os: 'linux', architecture: 'arm64' }]);
    expect(plan.targets[0]!.credential).toBeUndefined();
  });

  it('doubles the host as Kamal does when image names one and registry.server is set, and warns', async () => {
    const plan = await readDeployPlan({ cwd: fixture('doubled-host'), version: 'v1', env: { GHCR_TOKEN: 'ghp_doubled' } });
    expect(plan.targets.map((t) => [t.name, t.ref])).toEqual([
      ['api', 'ghcr.io/ghcr.io/acme/api:v1'],
      ['api', 'ghcr.io/ghcr.io/acme/api:latest'],
      ['worker-db', 'ghcr.io/acme/postgres:16'],
      ['cache', 'quay.io/quay.io/acme/valkey:8'],
    ]);
    expect(plan.notes).toContain(
      'image "ghcr.io/acme/api" already names the registry ghcr.io and its registry.server is "ghcr.io", so Kamal prefixes the server again and pulls ghcr.io/ghcr.io/acme/api:v1; drop the host from the image (image: acme/api)',
    );
    expect(plan.notes).toContain(
      'accessories.cache.image "quay.io/acme/valkey:8" already names the registry quay.io and its registry.server is "quay.io", so Kamal prefixes the server again and pulls quay.io/quay.io/acme/valkey:8; drop the host from the image (image: acme/valkey:8)',
    );
  });

  it('gives an accessory on the root registry the root credential (Kamal logs in there), never the server prefix', async () => {
    const plan = await readDeployPlan({ cwd: fixture('doubled-host'), version: 'v1', env: { GHCR_TOKEN: 'ghp_doubled' } });
    const db = plan.targets.find((t) => t.name === 'worker-db')!;
    expect(db.credential).toMatchObject({ server: 'ghcr.io', username: 'acme-bot', origin: 'environment GHCR_TOKEN' });
  });

  it('uses anchors and merge keys for the image and an accessory registry', async () => {
    const plan = await readDeployPlan({ cwd: fixture('anchors'), version: 'v1', env: { INTERNAL_REGISTRY_PASSWORD: 'internal-pw-42' } });
    expect(plan.targets.map((t) => t.ref)).toEqual([
      'registry.internal.example:5000/tools/anchored:v1',
      'registry.internal.example:5000/tools/anchored:latest',
      'registry.internal.example:5000/prom/prometheus:v3.0.1',
    ]);
    expect(plan.targets[0]!.source).toEqual({ file: 'config/deploy.yml', line: 12, column: 21 });
    expect(plan.targets[2]!.credential).toMatchObject({ username: 'metrics-reader', password: 'internal-pw-42' });
  });

  it('reads arch lists and variants as linux platforms', async () => {
    const dir = project({ 'config/deploy.yml': `service: a\nimage: acme/a\nbuilder:\n  arch: [amd64, arm/v7]\nservers:\n  - 1.1.1.1\n${REGISTRY}` });
    const plan = await readDeployPlan({ cwd: dir, version: 'v1', env: {} });
    expect(plan.targets[0]!.platforms).toEqual([
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm', variant: 'v7' },
    ]);
  });

  it('refuses a config without builder.arch, as Kamal does ("Builder arch not set")', async () => {
    const dir = project({ 'config/deploy.yml': `service: a\nimage: acme/a\nservers:\n  - 1.1.1.1\n${REGISTRY}builder:\n  context: .\n` });
    const e = await configError(readDeployPlan({ cwd: dir, version: 'v1', env: {} }));
    expect([e.file, e.line]).toEqual(['config/deploy.yml', 8]);
    expect(e.message).toContain('builder: Builder arch not set');
    expect(e.message).toContain('builder.arch');
    // No builder section at all: the same refusal, naming the file.
    const bare = project({ 'config/deploy.yml': `service: a\nimage: acme/a\nservers:\n  - 1.1.1.1\n${REGISTRY}` });
    const none = await configError(readDeployPlan({ cwd: bare, version: 'v1', env: {} }));
    expect(none.file).toBe('config/deploy.yml');
    expect(none.message).toContain('builder: Builder arch not set');
  });
});

describe('readDeployPlan: validation', () => {
  const invalid = fixture('invalid');
  const read = (configFile: string) => readDeployPlan({ cwd: invalid, configFile, version: 'v1', env: {} });

  it('requires service', async () => {
    const e = await configError(read('config/missing-service.yml'));
    expect(e.file).toBe('config/missing-service.yml');
    expect(e.message).toContain('Missing required configuration for service');
  });

  it('checks the service name', async () => {
    const e = await configError(read('config/bad-service.yml'));
    expect([e.file, e.line]).toEqual(['config/bad-service.yml', 1]);
    expect(e.message).toContain('Service name can only include alphanumeric characters, hyphens, and underscores');
    // Kamal's check is case-insensitive.
    const ok = project({ 'config/deploy.yml': `service: My_App-2\nimage: a/b\n${HOSTS_AND_ARCH}${REGISTRY}` });
    expect((await readDeployPlan({ cwd: ok, version: 'v1', env: {} })).service).toBe('My_App-2');
  });

  it('requires image unless the registry is local', async () => {
    const e = await configError(read('config/missing-image.yml'));
    expect(e.file).toBe('config/missing-image.yml');
    expect(e.message).toContain('Missing required configuration for image');
  });

  it('refuses an image that is a list, naming the line', async () => {
    const e = await configError(read('config/image-list.yml'));
    expect([e.file, e.line]).toEqual(['config/image-list.yml', 2]);
    expect(e.message).toContain('image: should be a string');
  });

  it('refuses an accessory without an image, naming its line', async () => {
    const e = await configError(read('config/accessory-without-image.yml'));
    expect([e.file, e.line]).toEqual(['config/accessory-without-image.yml', 4]);
    expect(e.message).toContain('accessories.mysql has no image');
  });

  it('refuses a password that is neither a string nor a one-item list', async () => {
    const dir = project({ 'config/deploy.yml': 'service: a\nimage: acme/a\nregistry:\n  username: u\n  password:\n    - A\n    - B\n' + HOSTS_AND_ARCH });
    const e = await configError(readDeployPlan({ cwd: dir, version: 'v1', env: {} }));
    expect([e.file, e.line]).toEqual(['config/deploy.yml', 5]);
    expect(e.message).toContain('registry/password: should be a string or an array with one string (for secret lookup)');
  });

  const forbidden: [string, number, string][] = [
    ['config/backticks.yml', 9, 'contains a shell command (backticks or %x)'],
    ['config/percent-x.yml', 7, 'contains a shell command (backticks or %x)'],
    ['config/method-call.yml', 7, 'contains a method call'],
    ['config/load-file.yml', 8, 'contains a method call, Ruby control flow'],
    ['config/interpolation.yml', 9, 'contains string interpolation'],
    ['config/unclosed-tag.yml', 2, 'is not closed'],
  ];
  for (const [file, line, reason] of forbidden) {
    it(`refuses the ERB in ${file} at line ${line}`, async () => {
      const e = await configError(read(file));
      expect([e.file, e.line]).toEqual([file, line]);
      expect(e.message).toContain(reason);
      expect(e.message.startsWith(`${file}:${line}:${e.column}: `)).toBe(true);
      expect(e.column).toBeGreaterThan(0);
    });
  }

  it('reports a config path that is a directory as a ConfigError, not a raw exception', async () => {
    const dir = project({ 'config/deploy.yml/inner': 'x' });
    const e = await configError(readDeployPlan({ cwd: dir, version: 'v1', env: {} }));
    expect(e.file).toBe('config/deploy.yml');
    expect(e.message).toContain('Kamal config file not found');
  });
});
