/**
 * Every command-line option, once: its flags, help and kind, and from that the type of the value
 * commander hands a command. A command adds options by name (`addOptions`) and reads them typed
 * (`optionsOf`): an option a command's own options type does not declare, or declares with another
 * type, is a compile error. Light on purpose (commander only): commands.ts loads it at start-up.
 */
import { Option, type Command } from 'commander';

interface Common {
  flags: string;
  help: string;
}
/** A value (`<x>`), optionally with a default. */
interface StringSpec extends Common {
  kind: 'string';
  default?: string;
}
/** Repeatable: every value, in order. */
interface ListSpec extends Common {
  kind: 'list';
}
/** `--x`: true when given. */
interface FlagSpec extends Common {
  kind: 'flag';
}
/** `--no-x`: false when given, true otherwise. */
interface NoSpec extends Common {
  kind: 'no';
}
/** A value (`<x>`), or `--no-x` for false. */
interface StringOrNoSpec extends Common {
  kind: 'string-or-no';
  no: string;
  noHelp: string;
}
/** One of a fixed set, chosen per command (`--format`, `--role`). */
interface ChoiceSpec extends Common {
  kind: 'choice';
  default?: string;
}
type Spec = StringSpec | ListSpec | FlagSpec | NoSpec | StringOrNoSpec | ChoiceSpec;

const LEDGER_DEFAULT = '.kamal/image-ledger.jsonl';

const OPTIONS = {
  // The deploy: which Kamal config, destination and version.
  configFile: { flags: '-c, --config-file <path>', help: 'Kamal config file', kind: 'string' },
  destination: { flags: '-d, --destination <name>', help: 'Kamal destination (reads config/deploy.<name>.yml over deploy.yml)', kind: 'string' },
  version: { flags: '--version <version>', help: 'the version being deployed (default: $KAMAL_VERSION, $VERSION, then git HEAD)', kind: 'string' },
  erb: {
    flags: '--erb <mode>',
    help: "how to read the config's ERB: safe runs nothing (ENV lookups and the like); ruby renders it with this machine's ruby as Kamal does, running the Ruby in it (default $KAMAL_GATE_ERB, else safe)",
    kind: 'choice',
  },
  // The registry.
  platform: { flags: '--platform <os/arch[/variant]>', help: 'platform to resolve in multi-platform images (repeatable; default: builder.arch, else linux/amd64)', kind: 'list' },
  insecureRegistry: { flags: '--insecure-registry <host>', help: 'allow plain HTTP to this registry (loopback registries always may)', kind: 'list' },
  registryUsername: { flags: '--registry-username <user>', help: 'registry user name (with --registry-password-stdin)', kind: 'string' },
  registryPasswordStdin: { flags: '--registry-password-stdin', help: 'read the registry password from standard input', kind: 'flag' },
  registryServer: { flags: '--registry-server <host>', help: "the registry --registry-username applies to (default: the app image's registry)", kind: 'string' },
  timeout: { flags: '--timeout <seconds>', help: 'deadline for each registry request', kind: 'string' },
  cacheDir: { flags: '--cache-dir <dir>', help: 'cache for content fetched by digest (default $KAMAL_GATE_CACHE_DIR, else $XDG_CACHE_HOME/kamal-gate)', kind: 'string' },
  cache: { flags: '--no-cache', help: 'fetch everything from the registry; read and write no cache', kind: 'no' },
  cacheMaxSize: { flags: '--cache-max-size <MiB>', help: 'bound on the cache, least recently used content is evicted (default 512, or $KAMAL_GATE_CACHE_MAX_MB)', kind: 'string' },
  stats: { flags: '--stats', help: 'print requests, bytes and time per registry at the end', kind: 'flag' },
  // The ledger.
  ledger: {
    flags: '--ledger <path|url>',
    help: `digest ledger: a file path (default ${LEDGER_DEFAULT} beside the Kamal config; not a symbolic link) or postgres://… ($KAMAL_GATE_LEDGER_URL)`,
    kind: 'string-or-no',
    no: '--no-ledger',
    noHelp: 'do not read or write the digest ledger',
  },
  checkpointKey: {
    flags: '--checkpoint-key <file>',
    help: "sign the ledger head with this private key (PKCS#8 PEM, or cosign's encrypted key with COSIGN_PASSWORD); default $KAMAL_GATE_CHECKPOINT_KEY",
    kind: 'string',
  },
  checkpointKeyless: { flags: '--checkpoint-keyless', help: 'sign the ledger head keyless through Sigstore (GitHub Actions OIDC, or SIGSTORE_ID_TOKEN)', kind: 'flag' },
  requireRecorded: { flags: '--require-recorded', help: 'fail tags the ledger has never seen (tag.unrecorded) instead of recording them on first use', kind: 'flag' },
  approveMove: { flags: '--approve-move <ref@digest>', help: 'approve a tag that moved, to exactly this digest (repeatable)', kind: 'list' },
  approveConfig: {
    flags: '--approve-config <fingerprint>',
    help: 'approve the effective Kamal deploy only when its fingerprint is exactly this one (as `verify` prints it for config.changed)',
    kind: 'string',
  },
  keepConflicts: { flags: '--keep-conflicts', help: 'merge even when both branches decided a tag differently (theirs then comes last); for resolving a conflict by hand', kind: 'flag' },
  // config diff.
  from: { flags: '--from <version>', help: 'compare with the config approved with this version (default: the latest approved for the destination)', kind: 'string' },
  // Output and policy.
  format: { flags: '-o, --format <format>', help: 'output format (-o as cosign)', kind: 'choice', default: 'text' },
  quiet: { flags: '-q, --quiet', help: 'no progress on the terminal', kind: 'flag' },
  failOn: {
    flags: '--fail-on <severity>',
    help: 'exit 1 when a finding of this severity or worse is present, whatever the policy mode (none: only what the policy enforces fails)',
    kind: 'choice',
    default: 'high',
  },
  policy: {
    flags: '--policy <path|strict|baseline>',
    help: 'policy file, or strict / baseline for a shipped policy (default .kamal/gate-policy.yml when present, else the built-in baseline)',
    kind: 'string',
  },
  role: { flags: '--role <role>', help: 'the role the image has in the deploy', kind: 'choice', default: 'app' },
  path: { flags: '--path <path>', help: 'where to write the policy', kind: 'string' },
  force: { flags: '--force', help: 'overwrite an existing file', kind: 'flag' },
  output: { flags: '-o, --output <file>', help: 'write to a file instead of standard output', kind: 'string' },
  jsonOutput: { flags: '--json-output <file>', help: 'also write the JSON report to this file, whatever --format prints', kind: 'string' },
  sarifOutput: {
    flags: '--sarif-output <file>',
    help: 'also write the SARIF log to this file, whatever --format prints (on a config error: a log with the error as its result)',
    kind: 'string',
  },
  // Signers and attestations (as cosign verify and gh attestation verify).
  trustedRoot: { flags: '--trusted-root <file>', help: 'Sigstore trusted_root.json for a private Sigstore (default: the cached or shipped public-good root)', kind: 'string' },
  key: {
    flags: '--key <path|env://NAME>',
    help: 'every image must be signed with this cosign public key: a PEM file, or env://NAME for the PEM in variable NAME (repeatable: any one of them)',
    kind: 'list',
  },
  certificateIdentity: { flags: '--certificate-identity <identity>', help: 'every image must be signed keyless by this identity, exactly (a workflow URL with @ref, or an e-mail)', kind: 'string' },
  certificateIdentityRegexp: { flags: '--certificate-identity-regexp <regexp>', help: 'the same, as a regular expression matching the whole identity', kind: 'string' },
  certificateOidcIssuer: { flags: '--certificate-oidc-issuer <url>', help: 'the OIDC issuer of that identity, exactly (required with --certificate-identity[-regexp])', kind: 'string' },
  certificateOidcIssuerRegexp: { flags: '--certificate-oidc-issuer-regexp <regexp>', help: 'the same, as a regular expression matching the whole issuer', kind: 'string' },
  certificateGithubWorkflowRepository: { flags: '--certificate-github-workflow-repository <owner/name>', help: 'the signing certificate must name this GitHub repository', kind: 'string' },
  certificateGithubWorkflowRef: { flags: '--certificate-github-workflow-ref <ref>', help: 'the signing certificate must name this git ref (refs/heads/main)', kind: 'string' },
  certificateGithubWorkflowName: { flags: '--certificate-github-workflow-name <name>', help: 'the signing certificate must name this workflow', kind: 'string' },
  certificateGithubWorkflowSha: { flags: '--certificate-github-workflow-sha <sha>', help: 'the signing certificate must name this commit', kind: 'string' },
  insecureIgnoreTlog: {
    flags: '--insecure-ignore-tlog',
    help: 'with --key: a signature without a Rekor transparency-log entry counts (keyless signatures still need a Rekor entry or a signed timestamp)',
    kind: 'flag',
  },
  attestationOwner: {
    flags: '--attestation-owner <org>',
    help: 'every image must carry an attestation signed by a GitHub Actions workflow of this organization or user (gh attestation verify --owner)',
    kind: 'string',
  },
  attestationRepo: { flags: '--attestation-repo <owner/name>', help: 'the same, by a workflow run in this repository (gh attestation verify --repo)', kind: 'string' },
  attestationSignerRepo: { flags: '--attestation-signer-repo <owner/name>', help: 'the signer must be a workflow of this repository, e.g. a reusable workflow (gh --signer-repo)', kind: 'string' },
  attestationSignerWorkflow: {
    flags: '--attestation-signer-workflow <owner/name/.github/workflows/file.yml>',
    help: 'the signer must be this workflow file, at any ref (gh --signer-workflow)',
    kind: 'string',
  },
  attestationOidcIssuer: {
    flags: '--attestation-oidc-issuer <url>',
    help: 'the OIDC issuer of the attestation certificate (gh --cert-oidc-issuer; default https://token.actions.githubusercontent.com)',
    kind: 'string',
  },
  predicateType: { flags: '--predicate-type <uri>', help: 'the attestation predicate type (gh --predicate-type; default https://slsa.dev/provenance/v1)', kind: 'string' },
  denySelfHostedRunners: { flags: '--deny-self-hosted-runners', help: 'the attestation must come from a GitHub-hosted runner (gh --deny-self-hosted-runners)', kind: 'flag' },
  // drift.
  concurrency: { flags: '--concurrency <n>', help: 'tags checked at once per registry, over as many connections (default 16)', kind: 'string' },
  watch: { flags: '--watch', help: 'run until stopped (SIGTERM finishes the round in flight and exits 0)', kind: 'flag' },
  interval: { flags: '--interval <duration>', help: 'with --watch: time between rounds (30s, 15m, 1h; default 15m)', kind: 'string' },
  metrics: { flags: '--metrics <host:port>', help: 'with --watch: serve Prometheus metrics at http://HOST:PORT/metrics', kind: 'string' },
  webhook: { flags: '--webhook <url>', help: 'POST a Slack-compatible message when a round finds drift (the URL is kept secret)', kind: 'string' },
  shard: { flags: '--shard <i/n>', help: "check only this runner's share of the ledger (e.g. 2/4), split by a hash of each tag", kind: 'string' },
  // hosts (verify, drift).
  hosts: { flags: '--hosts', help: 'also check the Kamal hosts over SSH, as Kamal connects to them', kind: 'flag' },
  // trust and hook.
  mirror: { flags: '--mirror <url>', help: 'TUF repository (default the Sigstore public-good one)', kind: 'string' },
  dir: {
    flags: '--dir <path>',
    help: 'Kamal hooks folder (default .kamal/hooks, which must lead to a folder inside the app; a folder named here is used wherever it is)',
    kind: 'string',
  },
  command: { flags: '--command <args>', help: 'extra arguments for kamal-gate verify in the hook (e.g. "--policy .kamal/strict.yml")', kind: 'string' },
} as const satisfies Record<string, Spec>;

export type OptionName = keyof typeof OPTIONS;

type ValueOf<S> = S extends { kind: 'list' } ? string[] : S extends { kind: 'flag' | 'no' } ? boolean : S extends { kind: 'string-or-no' } ? string | false : string;

/** The values commander hands a command that added `K`: each optional (absent when not given). */
export type Options<K extends OptionName> = { [P in K]?: ValueOf<(typeof OPTIONS)[P]> };

/** What a command changes of an option: its help, its choices (`format`, `role`), its default, whether `--no-x` is offered. */
export interface Tweak {
  /** Other flags for the same option (`--ledger <path>` where only a file will do). */
  flags?: string;
  help?: string;
  choices?: readonly string[];
  default?: string;
  /** For `string-or-no`: offer `--no-x` too (default false). */
  no?: boolean;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Adds the named options to `cmd`, as the table defines them (with this command's tweaks). */
export function addOptions(cmd: Command, names: readonly OptionName[], tweaks: Partial<Record<OptionName, Tweak>> = {}): Command {
  for (const name of names) {
    const spec: Spec = OPTIONS[name];
    const tweak = tweaks[name] ?? {};
    const option = new Option(tweak.flags ?? spec.flags, tweak.help ?? spec.help);
    if (spec.kind === 'list') option.argParser(collect);
    if (tweak.choices) option.choices(tweak.choices);
    const def = tweak.default ?? ('default' in spec ? spec.default : undefined);
    if (def !== undefined) option.default(def);
    cmd.addOption(option);
    if (spec.kind === 'string-or-no' && tweak.no) cmd.addOption(new Option(spec.no, spec.noHelp));
  }
  return cmd;
}

/**
 * The options `cmd` was given, typed by the table. `Chosen` narrows what commander guarantees beyond
 * the table: a choice (`format: 'text' | 'json'`) or a value with a default (`path: string`). The
 * cast is the one place commander's untyped values meet the table.
 */
export function optionsOf<K extends OptionName, Chosen extends Partial<Record<K, unknown>> = Record<never, never>>(cmd: Command, _names: readonly K[]): Omit<Options<K>, keyof Chosen> & Chosen {
  return cmd.opts() as Omit<Options<K>, keyof Chosen> & Chosen;
}
