/**
 * Files the package ships beside its code (policies/, dist/trusted_root.json, the version from
 * package.json), embedded in the single-file build and the standalone binary so that they run with
 * nothing beside them. scripts/bundle.mjs replaces this module with one holding the files' text,
 * keyed by their path in the package; running from dist/ or src/ it is empty and the files are read
 * from disk.
 */
export const EMBEDDED: Readonly<Partial<Record<string, string>>> = {};

/** Whether this is the single-file build (dist/kamal-gate.mjs, or the binary's): one module, one folder under the package root. */
export const BUNDLED: boolean = false;

/**
 * Whether this is the standalone executable (Node's single executable application): one file, the
 * runtime and the bundle in it. scripts/bundle.mjs sets it for the binary's bundle.
 */
export const STANDALONE: boolean = false;
