/**
 * Image references, parsed and normalized exactly as Docker does (distribution/reference grammar,
 * `ParseNormalizedNamed` + `TagNameOnly`): default registry `docker.io`, `library/` for single-name
 * Docker Hub images, `index.docker.io` as an alias, ports, `:tag`, `@digest` and `tag@digest`.
 */
import { ReferenceFormatError } from '../errors.js';

export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's registry API actually lives. */
const DOCKER_HUB_API_HOST = 'registry-1.docker.io';
const LEGACY_HUB = 'index.docker.io';

const NAME_MAX = 255;
// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | -+
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const IPV6 = /^\[[a-fA-F0-9:]+\]$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const HEX64 = /^[a-f0-9]{64}$/;

export interface ImageReference {
  /** Registry as named (`docker.io`, `ghcr.io`, `localhost:5000`). */
  registry: string;
  /** Repository path within the registry (`library/alpine`, `acme/app`). */
  repository: string;
  tag?: string;
  digest?: string;
  /** True when no tag and no digest were given and `latest` was assumed, as Docker does. */
  tagDefaulted: boolean;
  /** The string the user gave. */
  original: string;
}

/** Known digest algorithms and the length of their lowercase hex encoding. */
export const DIGEST_ALGORITHMS: Record<string, number> = { sha256: 64, sha512: 128 };

export function validateDigest(digest: string, context = digest): string {
  const m = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):(.+)$/.exec(digest);
  if (!m) throw new ReferenceFormatError(context, `"${digest}" is not a digest (expected algorithm:hex, e.g. sha256:<64 hex>)`);
  const [, algorithm, hex] = m as unknown as [string, string, string];
  const len = DIGEST_ALGORITHMS[algorithm];
  if (len === undefined) {
    throw new ReferenceFormatError(context, `unsupported digest algorithm "${algorithm}" (supported: ${Object.keys(DIGEST_ALGORITHMS).join(', ')})`);
  }
  if (hex.length !== len || !/^[a-f0-9]+$/.test(hex)) {
    throw new ReferenceFormatError(context, `${algorithm} digest must be ${len} lowercase hex characters`);
  }
  return digest;
}

function validateDomain(domain: string, input: string): void {
  let host = domain;
  const portMatch = /^(.*):([0-9]+)$/.exec(domain);
  if (portMatch) {
    host = portMatch[1]!;
    const port = Number(portMatch[2]);
    if (port < 1 || port > 65535) throw new ReferenceFormatError(input, `port ${portMatch[2]} is out of range`);
  } else if (domain.includes(':') && !IPV6.test(domain)) {
    throw new ReferenceFormatError(input, `registry "${domain}" has an invalid port`);
  }
  if (IPV6.test(host)) return;
  const parts = host.split('.');
  if (parts.some((p) => !DOMAIN_COMPONENT.test(p))) {
    throw new ReferenceFormatError(input, `registry host "${host}" is not a valid host name`);
  }
}

/**
 * Parses a reference the way `docker pull` does. Throws ReferenceFormatError saying why a reference
 * is invalid.
 */
export function parseReference(input: string): ImageReference {
  const original = input;
  if (typeof input !== 'string' || input.length === 0) throw new ReferenceFormatError(String(input), 'reference is empty');
  if (input !== input.trim()) throw new ReferenceFormatError(input, 'reference has leading or trailing white space');
  if (/\s/.test(input)) throw new ReferenceFormatError(input, 'reference contains white space');
  if (HEX64.test(input)) {
    throw new ReferenceFormatError(input, 'a 64-character hex string is an image ID, not a reference; use repository@sha256:<hex>');
  }

  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new ReferenceFormatError(input, `"${digest}" is not a valid digest`);
    validateDigest(digest, input);
  }

  // A tag follows the last ':' that comes after the last '/' (a ':' before a '/' is a port).
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.indexOf(':', lastSlash + 1);
  if (colon !== -1) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) {
      throw new ReferenceFormatError(input, `"${tag}" is not a valid tag (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')`);
    }
  }
  if (rest.length === 0) throw new ReferenceFormatError(input, 'repository name is empty');

  // Split the domain off the way distribution's splitDockerDomain does.
  let registry: string;
  let repository: string;
  const slash = rest.indexOf('/');
  const first = slash === -1 ? '' : rest.slice(0, slash);
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    registry = DOCKER_HUB;
    repository = rest;
  } else {
    registry = first;
    repository = rest.slice(slash + 1);
    validateDomain(registry, input);
  }
  if (registry === LEGACY_HUB || registry === DOCKER_HUB_API_HOST) registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;

  if (repository.toLowerCase() !== repository) {
    throw new ReferenceFormatError(input, 'repository name must be lowercase');
  }
  for (const part of repository.split('/')) {
    if (!PATH_COMPONENT.test(part)) {
      throw new ReferenceFormatError(
        input,
        part === '' ? 'repository name has an empty path component' : `"${part}" is not a valid repository path component (lowercase letters, digits, and single '.', '_', '__' or '-' separators)`,
      );
    }
  }
  if (registry.length + 1 + repository.length > NAME_MAX) {
    throw new ReferenceFormatError(input, `repository name is longer than ${NAME_MAX} characters`);
  }

  const tagDefaulted = tag === undefined && digest === undefined;
  return { registry, repository, tag: tagDefaulted ? 'latest' : tag, digest, tagDefaulted, original };
}

/** `registry/repository` */
export function repositoryName(ref: Pick<ImageReference, 'registry' | 'repository'>): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The fully normalized string: `docker.io/library/alpine:latest`, `ghcr.io/a/b:1@sha256:…`. */
export function formatReference(ref: Pick<ImageReference, 'registry' | 'repository' | 'tag' | 'digest'>): string {
  let s = repositoryName(ref);
  if (ref.tag) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}

/**
 * The short form Docker prints (`alpine:latest`, `acme/app:1`); other registries stay whole. A Docker
 * Hub repository whose first component would read as a registry (`docker.io/a.b/c`) keeps
 * `docker.io/`, so the short form always parses back to the same reference.
 */
export function familiarReference(ref: Pick<ImageReference, 'registry' | 'repository' | 'tag' | 'digest'>): string {
  let name = repositoryName(ref);
  if (ref.registry === DOCKER_HUB) {
    const short = ref.repository.startsWith('library/') && ref.repository.split('/').length === 2 ? ref.repository.slice(8) : ref.repository;
    const first = short.includes('/') ? short.slice(0, short.indexOf('/')) : '';
    if (!/[.:]/.test(first) && first !== 'localhost') name = short;
  }
  let s = name;
  if (ref.tag) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}

/** The host:port that serves the registry API for this registry name. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
}

/** Loopback registries (and only those, unless the user says otherwise) may be spoken to over plain HTTP. */
export function isLoopbackHost(registry: string): boolean {
  const host = registry.replace(/:[0-9]+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.(?:[0-9]{1,3}\.){2}[0-9]{1,3}$/.test(host);
}
