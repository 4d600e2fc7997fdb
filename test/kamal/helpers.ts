import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { ConfigError } from '../../src/errors.js';

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/kamal');

export function fixture(name: string): string {
  return path.join(FIXTURES, name);
}

/** A throwaway project directory holding `files` (paths relative to it). */
export function project(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kamal-gate-kamal-'));
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  return dir;
}

/** Awaits `work`, expects a ConfigError and returns it for further checks. */
export async function configError(work: Promise<unknown> | (() => unknown)): Promise<ConfigError> {
  let error: unknown;
  try {
    await (typeof work === 'function' ? work() : work);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

/** The start of a config the lint tests build on: valid for Kamal 2 once LINT_REGISTRY is appended. */
export const LINT_HEAD = `service: shop
image: acme/shop
servers:
  - 10.0.0.1
builder:
  arch: amd64
`;

/** A registry Kamal 2 accepts (it requires one), appended at the end of each config so no asserted line moves. */
export const LINT_REGISTRY = `registry:
  username: acme
  password:
    - KAMAL_REGISTRY_PASSWORD
`;
