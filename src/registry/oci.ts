/** The OCI data every layer speaks: a platform and a content descriptor (image-spec), with no imports. */

/** An OCI platform as written in an image index (`os/architecture[/variant]`). */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** A descriptor as in the OCI image spec. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform & { 'os.version'?: string; 'os.features'?: string[] };
  annotations?: Record<string, string>;
  artifactType?: string;
  urls?: string[];
}
