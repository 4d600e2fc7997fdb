/**
 * The secret rules on values seen in real Kamal configs: references and public values are not
 * secrets (`config.secrets_tracked`, `config.secret_in_clear_env`), real secrets still are, with the
 * same rule and severity; and only the secrets files Kamal reads for the destination are looked at.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { readDeployPlanAndConfig } from '../../src/kamal/index.js';
import { lintApp, lintConfig } from '../../src/kamal/lint/index.js';
import { publicValueKind, secretValueKind } from '../../src/kamal/lint/secret-values.js';
import { isLiteralDotenvValue } from '../../src/kamal/lint/tracked-secrets.js';
import type { Finding } from '../../src/types.js';
import { LINT_HEAD as HEAD, LINT_REGISTRY as REGISTRY, project } from './helpers.js';

// Made-up values in the issuers' formats.
const PRICE = 'price_1QzX8bL2eZvKYlo2C0mN4pQr';
const PRODUCT = 'prod_QzX8bL2eZvKYlo';
const PK_LIVE = 'pk_live_51HAbCdEfGhIjKlMnOpQrStUvWxYz0123456789';
const PK_TEST = 'pk_test_51HAbCdEfGhIjKlMnOpQrStUvWx';
const SK_LIVE = 'sk_live_51HAbCdEfGhIjKlMnOpQrStUvWxYz0123456789';
const RK_LIVE = 'rk_live_51HAbCdEfGhIjKlMnOpQrStUvWx';
const WHSEC = 'whsec_AbCdEfGhIjKlMnOpQrStUvWxYz012345';
const AWS_SECRET = 'GkL9/mN2pQ4+rS6tU8vW0xY1zA3bC5dE7fH9jK2m';
const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
const RANDOM = 'Zq3vT9pLm2Xw8RbN4cYk7HsJ1dGf6';
const GH_TOKEN = `ghp_${'Ab1'.repeat(12)}`;

function git(cwd: string, ...args: string[]) {
  execFileSync('git', args, {
    cwd,
    stdio: 'ignore',
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' },
  });
}

/** A git repository holding (and tracking) `files`, linted as `kamal-gate lint [-d destination]` would. */
async function lintTracked(files: Record<string, string>, destination?: string): Promise<Finding[]> {
  const cwd = project(files);
  git(cwd, 'init', '-q');
  git(cwd, 'add', '--', '.');
  const { plan, config } = await readDeployPlanAndConfig({ cwd, env: {}, destination, version: 'v1' });
  const { findings, notes } = await lintApp({ root: config.root, targets: plan.targets, appRoot: cwd, cwd, destination, env: process.env });
  expect(notes).toEqual([]);
  return findings.filter((f) => f.rule === 'config.secrets_tracked');
}

async function lintClearEnv(env: string): Promise<Finding[]> {
  const cwd = project({ 'config/deploy.yml': `${HEAD}env:\n  clear:\n${env}${REGISTRY}` });
  const { plan, config } = await readDeployPlanAndConfig({ cwd, env: {}, version: 'v1' });
  return lintConfig({ root: config.root, targets: plan.targets }).filter((f) => f.rule === 'config.secret_in_clear_env');
}

/** `file:line key (looks like)` of each finding. */
const described = (findings: Finding[]) =>
  findings.map((f) => {
    const evidence = f.evidence as { key: string; looksLike?: string };
    return `${f.source!.file}:${f.source!.line} ${evidence.key}${evidence.looksLike ? ` (${evidence.looksLike})` : ''}`;
  });

describe('config.secrets_tracked: references and public values are not literal secrets', () => {
  it('in a tracked .kamal/secrets: URLs without a password, references, 1Password items, host lists and public ids pass; secrets do not', async () => {
    const secrets = [
      /* 1 */ 'REDIS_URL=redis://host.docker.internal:6379/0',
      /* 2 */ 'DATABASE_URL=postgres://tf2@host/db',
      /* 3 */ 'DATABASE_URL=postgres://app:${POSTGRES_PASSWORD}@db/app',
      /* 4 */ 'OP_ITEM="op://Vault/Item"',
      /* 5 */ 'SECRETS=$(kamal secrets fetch --adapter 1password --account acme --from Vault/Item KAMAL_REGISTRY_PASSWORD RAILS_MASTER_KEY)',
      /* 6 */ 'KAMAL_REGISTRY_PASSWORD=$(kamal secrets extract KAMAL_REGISTRY_PASSWORD ${SECRETS})',
      /* 7 */ 'RAILS_MASTER_KEY=$(cat config/master.key)',
      /* 8 */ 'SMTP_PASSWORD=$SMTP_PASSWORD',
      /* 9 */ 'ALLOWED_HOSTS=127.0.0.1,localhost,stg.example.net',
      /* 10 */ `STRIPE_PRICE=${PRICE}`,
      /* 11 */ `STRIPE_PUBLISHABLE_KEY=${PK_LIVE}`,
      /* 12 */ 'POSTGRES_USER=app',
      /* 13 */ 'GCP_SECRET=projects/acme/secrets/db-password/versions/latest',
      /* 14 */ 'DB_PASSWORD=literal-db-password',
      /* 15 */ 'PRIMARY_DATABASE_URL=postgres://app:s3cr3t@db/app',
      /* 16 */ 'CACHE_URL=redis://:s3cr3tpw@cache:6379/0',
      /* 17 */ `UPSTREAM=${GH_TOKEN}`,
      /* 18 */ `SESSION_SIGNER=${RANDOM}`,
      /* 19 */ `STRIPE_API=${SK_LIVE}`,
      /* 20 */ `STRIPE_HOOK=${WHSEC}`,
      /* 21 */ 'SOMETHING=some-literal-value',
      /* 22 */ 'QUEUE_URL=postgres://app:pre${SUFFIX}@db/app',
    ].join('\n');
    const found = await lintTracked({ 'config/deploy.yml': `${HEAD}${REGISTRY}`, '.kamal/secrets': `${secrets}\n` });
    expect(described(found)).toEqual([
      '.kamal/secrets:14 DB_PASSWORD',
      '.kamal/secrets:15 PRIMARY_DATABASE_URL (a URL with a password)',
      '.kamal/secrets:16 CACHE_URL (a URL with a password)',
      '.kamal/secrets:17 UPSTREAM (a GitHub token)',
      '.kamal/secrets:18 SESSION_SIGNER (a high-entropy string)',
      '.kamal/secrets:19 STRIPE_API (a Stripe secret key)',
      '.kamal/secrets:20 STRIPE_HOOK (a Stripe webhook secret)',
      // In Kamal's secrets file every value is a secret unless it says otherwise.
      '.kamal/secrets:21 SOMETHING',
      // A password partly written out is a literal password.
      '.kamal/secrets:22 QUEUE_URL (a URL with a password)',
    ]);
    expect(found.every((f) => f.severity === 'critical')).toBe(true);
    for (const f of found) expect(f.message).not.toMatch(/s3cr3t|literal-db-password|some-literal-value|ghp_|sk_live_|whsec_|Zq3vT9/);
  });

  it('in a tracked .env: a reference in a URL, a publishable key and a 1Password item pass; secret keys and URL passwords do not', async () => {
    const env = [
      /* 1 */ 'DATABASE_URL=postgres://app:${POSTGRES_PASSWORD}@db/app',
      /* 2 */ `STRIPE_PUBLISHABLE_KEY=${PK_TEST}`,
      /* 3 */ 'OP_ITEM=op://Vault/Item/credential',
      /* 4 */ `STRIPE_PRODUCT=${PRODUCT}`,
      /* 5 */ 'REDIS_URL=redis://host.docker.internal:6379/0',
      /* 6 */ `STRIPE_SECRET_KEY=${SK_LIVE}`,
      /* 7 */ 'REPLICA_URL=postgres://app:s3cr3t@replica/app',
      /* 8 */ `STRIPE_RESTRICTED=${RK_LIVE}`,
      /* 9 */ `AUTH_TOKEN=${JWT}`,
    ].join('\n');
    const found = await lintTracked({ 'config/deploy.yml': `${HEAD}${REGISTRY}`, '.env': `${env}\n` });
    expect(described(found)).toEqual([
      '.env:6 STRIPE_SECRET_KEY (a Stripe secret key)',
      '.env:7 REPLICA_URL (a URL with a password)',
      '.env:8 STRIPE_RESTRICTED (a Stripe secret key)',
      '.env:9 AUTH_TOKEN (a JWT)',
    ]);
    expect(found.every((f) => f.severity === 'critical')).toBe(true);
  });

  it('reads references as Kamal does: $(…) (nested), $VAR, ${VAR} and kamal secrets forms are not literal', () => {
    expect(isLiteralDotenvValue('postgres://app:${POSTGRES_PASSWORD}@db/app')).toBe(true); // the URL is written, the password is not
    expect(isLiteralDotenvValue('"$(kamal secrets fetch --adapter bitwarden --account a@example.com --from Vault A B)"')).toBe(false);
    expect(isLiteralDotenvValue('$(kamal secrets extract A ${SECRETS})')).toBe(false);
    expect(isLiteralDotenvValue('$(op read "op://Vault/Item/$(echo field)")')).toBe(false);
    expect(isLiteralDotenvValue('${A}${B}')).toBe(false);
  });
});

describe('config.secrets_tracked: only the secrets files Kamal reads for the destination', () => {
  const files = {
    'config/deploy.yml': `${HEAD}${REGISTRY}`,
    'config/deploy.eu.yml': 'servers:\n  - 10.0.1.1\n',
    'config/deploy.us.yml': 'servers:\n  - 10.0.2.1\n',
    '.kamal/secrets': 'DB_PASSWORD=literal-plain\n',
    '.kamal/secrets-common': 'DB_PASSWORD=literal-common\n',
    '.kamal/secrets.eu': 'DB_PASSWORD=literal-eu\n',
    '.kamal/secrets.us': 'DB_PASSWORD=literal-us\n',
  };
  const files_ = (found: Finding[]) => found.map((f) => f.source!.file).sort();

  it('without a destination: .kamal/secrets-common and .kamal/secrets', async () => {
    expect(files_(await lintTracked(files))).toEqual(['.kamal/secrets', '.kamal/secrets-common']);
  });

  it('with -d eu: .kamal/secrets-common and .kamal/secrets.eu, not .kamal/secrets nor another destination’s', async () => {
    const found = await lintTracked(files, 'eu');
    expect(files_(found)).toEqual(['.kamal/secrets-common', '.kamal/secrets.eu']);
    expect(found.every((f) => f.severity === 'critical')).toBe(true);
  });

  it('with secrets_path set: its -common and .<dest> files, not the default .kamal/secrets*', async () => {
    const found = await lintTracked(
      {
        ...files,
        'config/deploy.yml': `${HEAD}secrets_path: config/secrets\n${REGISTRY}`,
        'config/secrets-common': 'API_TOKEN=literal-token-value\n',
        'config/secrets.eu': 'API_TOKEN=literal-token-value\n',
        'config/secrets.us': 'API_TOKEN=literal-token-value\n',
      },
      'eu',
    );
    expect(files_(found)).toEqual(['config/secrets-common', 'config/secrets.eu']);
  });
});

describe('config.secret_in_clear_env: host lists and public identifiers are not high-entropy secrets', () => {
  it('passes host lists, Stripe price/product ids and publishable keys, and a ${VAR} password; flags secrets with the same rule and severity', async () => {
    const found = await lintClearEnv(
      [
        /* 9 */ '    ALLOWED_HOSTS: 127.0.0.1,localhost,stg.example.net',
        /* 10 */ '    DJANGO_ALLOWED_HOSTS: "127.0.0.1,localhost,stg.example.net,web01.k8s.example.net,172.31.9.204"',
        /* 11 */ '    CSRF_HOSTS: "localhost 127.0.0.1 [::1] .example.net stg.Example.NET:8443"',
        /* 12 */ `    STRIPE_PRICE_PRO: ${PRICE}`,
        /* 13 */ `    STRIPE_PRICES: "${PRICE},price_1QzY9cM3fAwLZmp3D1nO5qRs"`,
        /* 14 */ `    STRIPE_PRODUCT: ${PRODUCT}`,
        /* 15 */ `    STRIPE_PUBLISHABLE_KEY: ${PK_LIVE}`,
        /* 16 */ `    STRIPE_PUBLIC_KEY: ${PK_TEST}`,
        /* 17 */ '    DATABASE_URL: postgres://app:${POSTGRES_PASSWORD}@db/app',
        /* 18 */ `    STRIPE_SECRET: ${SK_LIVE}`,
        /* 19 */ `    STRIPE_KEY: ${RK_LIVE}`,
        /* 20 */ `    STRIPE_ENDPOINT: ${WHSEC}`,
        /* 21 */ `    S3_SIGNING: ${AWS_SECRET}`,
        /* 22 */ `    SESSION: ${JWT}`,
        /* 23 */ '    CACHE_URL: redis://:s3cr3tpw@cache:6379/0',
        /* 24 */ '    PRIMARY_DB: postgres://app:s3cr3t@db/app',
        /* 25 */ `    SIGNER: ${RANDOM}`,
        /* 26 */ '    DOTTED: Ab3dEf9hKl.Mn0pQr5tUvWx.Yz',
        /* 27 */ '    DB_PASSWORD: pa55word-here',
        /* 28 */ `    UPSTREAM: ${GH_TOKEN}`,
      ].join('\n') + '\n',
    );
    expect(described(found)).toEqual([
      'config/deploy.yml:18 STRIPE_SECRET (a Stripe secret key)',
      'config/deploy.yml:19 STRIPE_KEY (a Stripe secret key)',
      'config/deploy.yml:20 STRIPE_ENDPOINT (a Stripe webhook secret)',
      'config/deploy.yml:21 S3_SIGNING (an AWS secret access key)',
      'config/deploy.yml:22 SESSION (a JWT)',
      'config/deploy.yml:23 CACHE_URL (a URL with a password)',
      'config/deploy.yml:24 PRIMARY_DB (a URL with a password)',
      'config/deploy.yml:25 SIGNER (a high-entropy string)',
      'config/deploy.yml:26 DOTTED (a high-entropy string)',
      'config/deploy.yml:27 DB_PASSWORD',
      'config/deploy.yml:28 UPSTREAM (a GitHub token)',
    ]);
    expect(found.every((f) => f.severity === 'high')).toBe(true);
    for (const f of found) expect(`${f.message} ${JSON.stringify(f.evidence)}`).not.toMatch(/s3cr3t|pa55word|sk_live_|rk_live_|whsec_|eyJhbGci|GkL9|Zq3vT9|Ab3dEf9h|ghp_/);
  });

  it('tells public values from secret ones', () => {
    expect(publicValueKind(PRICE)).toBe('a Stripe publishable key, price or product id');
    expect(publicValueKind(PK_LIVE)).toBe('a Stripe publishable key, price or product id');
    expect(publicValueKind('op://Vault/Item')).toBe('a 1Password reference');
    expect(publicValueKind('arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf')).toBe('an AWS Secrets Manager or SSM reference');
    for (const secret of [SK_LIVE, RK_LIVE, WHSEC, `${PRICE},${SK_LIVE}`, `pk_live_${SK_LIVE}`]) expect(publicValueKind(secret)).toBeUndefined();
    expect(secretValueKind(`${PRICE} ${SK_LIVE}`)).toBe('a Stripe secret key');
    expect(secretValueKind('https://api.example.com/v1/feed?token=Abcdef123456789')).toBe('a URL with a token');
    expect(secretValueKind('127.0.0.1,localhost,stg.example.net,0.0.0.0,web-1.internal,192.168.10.42')).toBeUndefined();
  });
});
