/**
 * The command line: argument parsing, the commands, and the mapping of failures to exit codes
 * (0 passed, 1 policy violation, 2 usage or config error, 3 could not verify). A user mistake never
 * prints a stack trace.
 */
import { Command, CommanderError, Option } from 'commander';
import { EXIT, isKamalGateError } from '../errors.js';
import { printableLines } from '../printable.js';
import { redact } from '../redact.js';
import { VERSION } from '../version.js';
import { LINT_FORMATS, VERIFY_FORMATS } from './formats.js';
import { addCheckpointOptions } from './checkpoint-options.js';
import { addLedgerOption } from './ledger-options.js';
import { registerLedgerMergeCommands } from './ledger-merge.js';
import { registerPolicyCommands } from './policy.js';

// Start-up stays fast because this module loads only commander and the option definitions: each
// action imports its command module (and so undici, zod, yaml, pg, @sigstore/*) when it runs.
// A new option is one `.option(…)` here; a new command is one block here whose action imports its
// module: `.action(async (…) => { exitCode = await (await import('./x.js')).xCommand(…, io); })`.
// Keep static imports in this file to light modules (no third-party package but commander).

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  /** Whether stderr is a terminal (progress is shown only there). */
  isTty: boolean;
}

const defaultIo: Io = {
  out: (s) => process.stdout.write(redact(s)),
  err: (s) => process.stderr.write(redact(s)),
  env: process.env,
  isTty: Boolean(process.stderr.isTTY),
};

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function addTargetOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config-file <path>', 'Kamal config file', undefined)
    .option('-d, --destination <name>', 'Kamal destination (reads config/deploy.<name>.yml over deploy.yml)')
    .option('--version <version>', 'the version being deployed (default: $KAMAL_VERSION, $VERSION, then git HEAD)');
}

function addRegistryOptions(cmd: Command): Command {
  return cmd
    .option('--platform <os/arch[/variant]>', 'platform to resolve in multi-platform images (repeatable; default: builder.arch, else linux/amd64)', collect)
    .option('--insecure-registry <host>', 'allow plain HTTP to this registry (loopback registries always may)', collect)
    .option('--registry-username <user>', 'registry user name (with --registry-password-stdin)')
    .option('--registry-password-stdin', 'read the registry password from standard input')
    .option('--registry-server <host>', 'the registry --registry-username applies to (default: the app image\'s registry)')
    .option('--timeout <seconds>', 'deadline for each registry request', undefined)
    .option('--cache-dir <dir>', 'cache for content fetched by digest (default $KAMAL_GATE_CACHE_DIR, else $XDG_CACHE_HOME/kamal-gate)')
    .option('--no-cache', 'fetch everything from the registry; read and write no cache')
    .option('--cache-max-size <MiB>', 'bound on the cache, least recently used content is evicted (default 512, or $KAMAL_GATE_CACHE_MAX_MB)')
    .option('--stats', 'print requests, bytes and time per registry at the end');
}

function addFormat(cmd: Command, formats: string[]): Command {
  return cmd.addOption(new Option('--format <format>', 'output format').choices(formats).default('text'));
}

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command('kamal-gate')
    .description('Stops a bad container image before Kamal deploys it.')
    .version(VERSION, '-V, --version', 'print the kamal-gate version')
    .addHelpText('after', '\nExit codes: 0 passed, 1 policy violation, 2 usage or config error, 3 could not verify.')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showSuggestionAfterError(true);
  program.enablePositionalOptions();

  const verify = addFormat(addLedgerOption(addRegistryOptions(addTargetOptions(program.command('verify').argument('[refs...]', 'image references (default: the images of the Kamal config)'))), true), [...VERIFY_FORMATS])
    .option('--require-recorded', 'fail tags the ledger has never seen (tag.unrecorded) instead of recording them on first use')
    .option('--policy <path>', 'policy file (default .kamal/gate-policy.yml when present, else the built-in baseline)')
    .option('-q, --quiet', 'no progress on the terminal')
    .option('--trusted-root <file>', 'Sigstore trusted_root.json for a private Sigstore (default: the cached or shipped public-good root)')
    .option('--key <path>', 'every image must be signed with this cosign public key (repeatable: any one of them)', collect)
    .option('--certificate-identity <identity>', 'every image must be signed keyless by this identity, exactly (a workflow URL with @ref, or an e-mail)')
    .option('--certificate-identity-regexp <regexp>', 'the same, as a regular expression matching the whole identity')
    .option('--certificate-oidc-issuer <url>', 'the OIDC issuer of that identity, exactly (required with --certificate-identity[-regexp])')
    .option('--certificate-oidc-issuer-regexp <regexp>', 'the same, as a regular expression matching the whole issuer')
    .option('--certificate-github-workflow-repository <owner/name>', 'the signing certificate must name this GitHub repository')
    .option('--certificate-github-workflow-ref <ref>', 'the signing certificate must name this git ref (refs/heads/main)')
    .option('--certificate-github-workflow-name <name>', 'the signing certificate must name this workflow')
    .option('--certificate-github-workflow-sha <sha>', 'the signing certificate must name this commit')
    .option('--insecure-ignore-tlog', 'with --key: a signature without a Rekor transparency-log entry counts (keyless signatures still need a Rekor entry or a signed timestamp)')
    .option('--attestation-owner <org>', 'every image must carry an attestation signed by a GitHub Actions workflow of this organization or user (gh attestation verify --owner)')
    .option('--attestation-repo <owner/name>', 'the same, by a workflow run in this repository (gh attestation verify --repo)')
    .option('--attestation-signer-repo <owner/name>', 'the signer must be a workflow of this repository, e.g. a reusable workflow (gh --signer-repo)')
    .option('--attestation-signer-workflow <owner/name/.github/workflows/file.yml>', 'the signer must be this workflow file, at any ref (gh --signer-workflow)')
    .option('--attestation-oidc-issuer <url>', 'the OIDC issuer of the attestation certificate (gh --cert-oidc-issuer; default https://token.actions.githubusercontent.com)')
    .option('--predicate-type <uri>', 'the attestation predicate type (gh --predicate-type; default https://slsa.dev/provenance/v1)')
    .option('--deny-self-hosted-runners', 'the attestation must come from a GitHub-hosted runner (gh --deny-self-hosted-runners)')
    .description('resolve every image of the deploy, pin it to a digest, and check each tag against the digest ledger')
    .addHelpText(
      'after',
      '\nSigner flags (as cosign verify): --key, or --certificate-identity[-regexp] with --certificate-oidc-issuer[-regexp],\n' +
        'add one signer requirement for every image (accessories and the proxy too), enforced, on top of the policy: the\n' +
        "policy's signatures group (when it has one) must hold too. The image or one of its platform manifests must carry a\n" +
        'valid signature by that signer, bound to its digest; a Rekor entry is required unless --insecure-ignore-tlog.\n' +
        'Give --key or the certificate flags, not both.\n' +
        '\nAttestation flags (as gh attestation verify oci://IMAGE): --attestation-owner ORG or --attestation-repo OWNER/NAME,\n' +
        'with --attestation-signer-repo/--attestation-signer-workflow, --attestation-oidc-issuer, --predicate-type and\n' +
        '--deny-self-hosted-runners, add one attestation requirement for every image, enforced, on top of the policy: a\n' +
        'Sigstore-signed attestation of that predicate type (default SLSA provenance v1), bound to the digest, whose certificate\n' +
        'names that owner (and repository), GitHub\'s OIDC issuer, and a signer workflow of the repository (or owner, or signer).\n' +
        '\nExamples:\n  kamal-gate verify --version "$GITHUB_SHA"\n  kamal-gate verify -d staging --format json\n  kamal-gate verify --format sarif > kamal-gate.sarif   # also: github, junit\n  kamal-gate verify ghcr.io/acme/app:1.4.2 --platform linux/arm64 --no-ledger\n' +
        '  kamal-gate verify --key cosign.pub\n' +
        '  kamal-gate verify --certificate-identity https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main \\\n' +
        '                    --certificate-oidc-issuer https://token.actions.githubusercontent.com\n' +
        '  kamal-gate verify --attestation-repo acme/app --deny-self-hosted-runners   # gh attestation verify oci://… --repo acme/app --deny-self-hosted-runners',
    );
  verify.action(async (refs: string[], opts) => {
    exitCode = await (await import('./verify.js')).verifyCommand(refs, opts, io);
  });

  const record = addCheckpointOptions(addFormat(addLedgerOption(addRegistryOptions(addTargetOptions(program.command('record').argument('[refs...]', 'image references (default: the images of the Kamal config)')))), ['text', 'json']))
    .option('--approve-move <ref@digest>', 'approve a tag that moved, to exactly this digest (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .description('approve in the digest ledger what the pipeline pushed: tags never approved before, as they point now (run right after the push); a tag that moved is refused unless --approve-move names its new digest')
    .addHelpText(
      'after',
      '\nExamples:\n  kamal-gate record --version "$GITHUB_SHA"      # after kamal build push\n  kamal-gate record ghcr.io/acme/app:1.4.2 --ledger postgres://ci@db/ledger\n  kamal-gate record --approve-move registry.example.com/library/postgres:16@sha256:…   # a reviewed upgrade',
    );
  record.action(async (refs: string[], opts) => {
    exitCode = await (await import('./record.js')).recordCommand(refs, opts, io);
  });

  const drift = addFormat(addLedgerOption(addRegistryOptions(program.command('drift'))), ['text', 'json'])
    .option('-c, --config-file <path>', 'Kamal config whose registry credentials to use (default config/deploy.yml when present)')
    .option('-d, --destination <name>', 'Kamal destination')
    .option('--concurrency <n>', 'tags checked at once (connections per registry stay bounded)', undefined)
    .option('-q, --quiet', 'no progress on the terminal')
    .option('--watch', 'run until stopped (SIGTERM finishes the round in flight and exits 0)')
    .option('--interval <duration>', 'with --watch: time between rounds (30s, 15m, 1h; default 15m)')
    .option('--metrics <host:port>', 'with --watch: serve Prometheus metrics at http://HOST:PORT/metrics')
    .option('--webhook <url>', 'POST a Slack-compatible message when a round finds drift (the URL is kept secret)')
    .option('--shard <i/n>', 'check only this runner\'s share of the ledger (e.g. 2/4), split by a hash of each tag')
    .description('re-resolve every tag in the ledger and report tags that were overwritten, rolled back or deleted')
    .addHelpText(
      'after',
      '\nExamples:\n  kamal-gate drift                                  # exit 1 when a tag drifted\n  kamal-gate drift --ledger "$KAMAL_GATE_LEDGER_URL" --format json --shard 1/4\n  kamal-gate drift --watch --interval 15m --metrics 127.0.0.1:9464 --webhook "$SLACK_WEBHOOK_URL"',
    );
  drift.action(async (opts) => {
    exitCode = await (await import('./drift.js')).driftCommand(opts, io, io.isTty);
  });

  const ledgerCmd = program.command('ledger').description('inspect the digest ledger');
  addFormat(addLedgerOption(ledgerCmd.command('verify')), ['text', 'json'])
    .description('check the hash chain of the whole ledger and name the first broken entry')
    .addHelpText('after', '\nExample:\n  kamal-gate ledger verify --ledger .kamal/image-ledger.jsonl')
    .action(async (opts) => {
      exitCode = await (await import('./ledger.js')).ledgerVerifyCommand(opts, io);
    });
  addFormat(addLedgerOption(ledgerCmd.command('show').argument('[ref]', 'one tag (default: every tag)')), ['text', 'json'])
    .description("show every tag with its approved digest, or one tag's history")
    .addHelpText('after', '\nExamples:\n  kamal-gate ledger show\n  kamal-gate ledger show ghcr.io/acme/app:v42')
    .action(async (ref: string | undefined, opts) => {
      exitCode = await (await import('./ledger.js')).ledgerShowCommand(ref, opts, io);
    });
  addLedgerOption(ledgerCmd.command('export'))
    .option('-o, --output <file>', 'write to a file instead of standard output')
    .description('write every ledger entry as JSON')
    .addHelpText('after', '\nExample:\n  kamal-gate ledger export -o ledger-backup.json')
    .action(async (opts) => {
      exitCode = await (await import('./ledger.js')).ledgerExportCommand(opts, io);
    });

  addCheckpointOptions(addFormat(addLedgerOption(ledgerCmd.command('checkpoint')), ['text', 'json']))
    .description("sign the ledger's head (sequence, tip hash, time, ledger identity) and store the checkpoint beside it")
    .addHelpText(
      'after',
      '\nExamples:\n  kamal-gate ledger checkpoint --checkpoint-key ledger-checkpoint.key\n  COSIGN_PASSWORD=… kamal-gate ledger checkpoint --checkpoint-key cosign.key\n  kamal-gate ledger checkpoint --checkpoint-keyless          # in GitHub Actions, with id-token: write',
    )
    .action(async (opts) => {
      exitCode = await (await import('./checkpoint-options.js')).ledgerCheckpointCommand(opts, io);
    });
  addCheckpointOptions(addFormat(addLedgerOption(ledgerCmd.command('forget').argument('<ref>', 'the tag to stop tracking (REGISTRY/REPOSITORY:TAG)')), ['text', 'json']))
    .description('stop tracking a tag (e.g. a base image tag an older version recorded), as a recorded event; a later record approves it afresh')
    .addHelpText('after', '\nExample:\n  kamal-gate ledger forget docker.io/library/ruby:3.3-slim')
    .action(async (ref: string, opts) => {
      exitCode = await (await import('./ledger-forget.js')).ledgerForgetCommand(ref, opts, io);
    });

  const targets = addFormat(addTargetOptions(program.command('targets')), ['text', 'json'])
    .description('list the images a deploy pulls, with the config line each comes from (no network)')
    .addHelpText('after', '\nExample:\n  kamal-gate targets -d production --version v42');
  targets.action(async (opts) => {
    exitCode = await (await import('./targets.js')).targetsCommand(opts, io);
  });

  const lint = addFormat(addTargetOptions(program.command('lint')), [...LINT_FORMATS])
    .option('--policy <path>', 'policy file (default .kamal/gate-policy.yml when present, else the built-in baseline)')
    .description('find dangerous settings in the Kamal config: docker socket mounts, privileged containers, secrets in clear env or tracked by git, unchecked SSH host keys, latest and unpinned images (no network)')
    .addHelpText('after', '\nExit codes: 0 no failing finding, 1 an enforced finding fails, 2 config or policy error.\n\nExamples:\n  kamal-gate lint\n  kamal-gate lint -d production --format sarif > lint.sarif   # also: json, github');
  lint.action(async (opts) => {
    exitCode = await (await import('./lint.js')).lintCommand(opts, io);
  });

  const inspect = addFormat(addRegistryOptions(program.command('inspect').argument('<ref>', 'image reference')), ['text', 'json'])
    .description('show one image in detail: digest, media type, platforms, created time, labels, annotations')
    .addHelpText('after', '\nExample:\n  kamal-gate inspect docker.io/library/redis:7.4');
  inspect.action(async (ref: string, opts) => {
    exitCode = await (await import('./inspect.js')).inspectCommand(ref, opts, io);
  });

  program
    .command('trust')
    .description('the Sigstore trusted root signatures are verified against')
    .command('refresh')
    .option('--cache-dir <dir>', 'where to keep it (default $XDG_CACHE_HOME/kamal-gate)')
    .option('--mirror <url>', 'TUF repository (default the Sigstore public-good one)')
    .description('fetch the current public-good trusted root through TUF (online) and cache it for offline verification')
    .addHelpText('after', '\nExample:\n  kamal-gate trust refresh            # online, once in a while; verify then runs offline')
    .action(async (opts: { cacheDir?: string; mirror?: string }) => {
      exitCode = await (await import('./trust.js')).trustRefreshCommand(opts, io);
    });

  const hook = program.command('hook').description("install kamal-gate as Kamal's pre-deploy hook");
  hook
    .command('install')
    .option('--dir <path>', 'Kamal hooks folder (default .kamal/hooks, which must lead to a folder inside the app; a folder named here is used wherever it is)')
    .option('--command <args>', 'extra arguments for kamal-gate verify in the hook (e.g. "--policy .kamal/strict.yml")')
    .description('write .kamal/hooks/pre-deploy so every kamal deploy is verified first; an existing hook is kept and chained')
    .addHelpText(
      'after',
      '\nThe hook runs `kamal-gate verify --version "$KAMAL_VERSION"` (with -d "$KAMAL_DESTINATION" when Kamal sets it).\n' +
        'It finds kamal-gate in $KAMAL_GATE_BIN, then ./node_modules/.bin, then PATH.\n\nExamples:\n  kamal-gate hook install\n  kamal-gate hook install --command "--policy .kamal/strict.yml --require-recorded"',
    )
    .action(async (opts) => {
      exitCode = await (await import('./hook.js')).hookInstallCommand(opts, io);
    });
  hook
    .command('uninstall')
    .option('--dir <path>', 'Kamal hooks folder (default .kamal/hooks, which must lead to a folder inside the app; a folder named here is used wherever it is)')
    .description('remove the kamal-gate block from the pre-deploy hook (and the file, when kamal-gate created it)')
    .addHelpText('after', '\nExample:\n  kamal-gate hook uninstall')
    .action(async (opts) => {
      exitCode = await (await import('./hook.js')).hookUninstallCommand(opts, io);
    });

  registerLedgerMergeCommands(ledgerCmd, io, (code) => {
    exitCode = code;
  });

  registerPolicyCommands(program, io, (code) => {
    exitCode = code;
  });

  if (argv.length <= 2) {
    io.out(program.helpInformation());
    return EXIT.usage;
  }
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
      return EXIT.usage; // commander already printed the message
    }
    if (isKamalGateError(e)) {
      io.err(`kamal-gate: ${printableLines(e.message)}\n`);
      return e.exitCode;
    }
    const msg = e instanceof Error ? e.message : String(e);
    io.err(`kamal-gate: internal error: ${printableLines(msg)}\n(this is a bug in kamal-gate; the image was not verified)\n`);
    if (io.env['KAMAL_GATE_DEBUG'] && e instanceof Error && e.stack) io.err(`${e.stack}\n`);
    return EXIT.unverifiable;
  }
}
