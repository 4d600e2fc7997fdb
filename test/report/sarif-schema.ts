/**
 * The SARIF 2.1.0 JSON schema, offline: the copy shipped in the npm package @microsoft/jest-sarif
 * (lib/schemas/sarif-2.1.0-rtm.5.json, from microsoft/sarif-js-sdk; a JSON Schema draft-04 document
 * that differs from the OASIS errata01 schema only in a few looser constraints), compiled with Ajv's
 * draft-04 class (ajv-draft-04) and ajv-formats (uri, uri-reference, date-time).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import ajvDraft04 from 'ajv-draft-04';
import ajvFormats from 'ajv-formats';

const require = createRequire(import.meta.url);
const SCHEMA_FILE = join(require.resolve('@microsoft/jest-sarif/package.json'), '..', 'lib', 'schemas', 'sarif-2.1.0-rtm.5.json');

export function sarifValidator() {
  const schema = JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')) as Record<string, unknown>;
  // unicodeRegExp: false because rtm.5's `language` pattern (`…[a-zA-Z]{2}]?$`) is not a valid
  // ECMAScript regex with the u flag; the OASIS errata fixed that pattern.
  const ajv = new ajvDraft04.default({ allErrors: true, strict: false, unicodeRegExp: false });
  ajvFormats.default(ajv);
  return ajv.compile(schema);
}
