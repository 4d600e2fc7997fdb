/**
 * The images an in-toto SLSA provenance statement says a build used: v0.2 `predicate.materials[]`
 * and v1 `predicate.buildDefinition.resolvedDependencies[]`, each `{ uri, digest: { sha256 } }`.
 * The statement is hostile input: anything malformed is skipped with a note, never thrown.
 */
import { parseDockerPurl, type DockerPurl } from './purl.js';

const SLSA_V02 = 'https://slsa.dev/provenance/v0.2';
const SLSA_V1 = 'https://slsa.dev/provenance/v1';
export const PROVENANCE_TYPES: ReadonlySet<string> = new Set([SLSA_V02, SLSA_V1]);

/** Entries of a materials list looked at; BuildKit lists a handful, so more is noise or an attack. */
export const MAX_MATERIALS = 1000;

export interface ImageMaterial extends DockerPurl {
  /** The purl as written (capped), for evidence. */
  uri: string;
  /** `digest.sha256` of the material: what the tag resolved to at build time (often an index). */
  resolvedDigest?: string;
}

export interface ProvenanceRead {
  predicateType?: string;
  images: ImageMaterial[];
  notes: string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads one statement. `subjectDigest` is the platform manifest it must speak of: a statement whose
 * subjects name other digests only is not about this image and is ignored.
 */
export function readProvenanceStatement(bytes: Buffer, subjectDigest: string): ProvenanceRead {
  const out: ProvenanceRead = { images: [], notes: [] };
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    out.notes.push('provenance statement is not valid JSON; ignored');
    return out;
  }
  if (!isObject(doc)) {
    out.notes.push('provenance statement is not a JSON object; ignored');
    return out;
  }
  if (typeof doc.predicateType !== 'string' || !PROVENANCE_TYPES.has(doc.predicateType)) {
    out.notes.push(`statement predicateType ${JSON.stringify(String(doc.predicateType).slice(0, 80))} is not SLSA provenance; ignored`);
    return out;
  }
  out.predicateType = doc.predicateType;
  if (Array.isArray(doc.subject) && doc.subject.length > 0) {
    const hex = subjectDigest.replace(/^sha256:/, '');
    const names = doc.subject.some((s) => isObject(s) && isObject(s.digest) && s.digest.sha256 === hex);
    if (!names) {
      out.notes.push(`provenance statement names other subjects than ${subjectDigest}; ignored`);
      return out;
    }
  }
  const predicate = doc.predicate;
  if (!isObject(predicate)) {
    out.notes.push(`provenance predicate is ${predicate === null ? 'null' : Array.isArray(predicate) ? 'an array' : `a ${typeof predicate}`}, not an object; ignored`);
    return out;
  }
  const list = doc.predicateType === SLSA_V02 ? predicate.materials : isObject(predicate.buildDefinition) ? predicate.buildDefinition.resolvedDependencies : undefined;
  const field = doc.predicateType === SLSA_V02 ? 'materials' : 'buildDefinition.resolvedDependencies';
  if (list === undefined) {
    out.notes.push(`provenance has no ${field}`);
    return out;
  }
  if (!Array.isArray(list)) {
    out.notes.push(`provenance ${field} is not a list; ignored`);
    return out;
  }
  if (list.length > MAX_MATERIALS) out.notes.push(`provenance lists ${list.length} ${field}; only the first ${MAX_MATERIALS} were read`);
  for (const m of list.slice(0, MAX_MATERIALS)) {
    if (!isObject(m) || typeof m.uri !== 'string') continue;
    const purl = parseDockerPurl(m.uri);
    if (!purl) continue;
    const sha = isObject(m.digest) ? m.digest.sha256 : undefined;
    const image: ImageMaterial = { ...purl, uri: m.uri };
    if (typeof sha === 'string' && /^[a-f0-9]{64}$/.test(sha)) image.resolvedDigest = `sha256:${sha}`;
    out.images.push(image);
  }
  return out;
}
