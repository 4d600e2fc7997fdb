/**
 * Image references as Kamal forms them, without normalising: the app's
 * `[registry.server/]image:version` (plus the `latest[-dest]` tag Kamal pushes beside it) and each
 * accessory's `[accessory.registry.server/]image`.
 */

/** Kamal's `[server, image].compact.join("/")`. */
export function repository(server: string | undefined, image: string): string {
  return server === undefined ? image : `${server}/${image}`;
}

/** Kamal's `latest_tag`: `latest`, or `latest-<destination>`. */
export function latestTag(destination: string | undefined): string {
  return destination === undefined ? 'latest' : `latest-${destination}`;
}

/** Docker's rule: the first path component names a registry host if it has a dot or a port, or is localhost. */
export function registryHostOf(image: string): string | undefined {
  const slash = image.indexOf('/');
  if (slash === -1) return undefined;
  const first = image.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? first : undefined;
}

/** The note for `server` prefixed to an image that already names a registry host. */
export function doubledHostNote(what: string, image: string, server: string, ref: string): string | undefined {
  const host = registryHostOf(image);
  if (host === undefined) return undefined;
  return (
    `${what} "${image}" already names the registry ${host} and its registry.server is "${server}", ` +
    `so Kamal prefixes the server again and pulls ${ref}; drop the host from the image (image: ${image.slice(host.length + 1)})`
  );
}
