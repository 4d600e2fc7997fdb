/**
 * Every command: its arguments, its options (by name from the one table, options.ts), its help, and
 * an action that imports the command's module only when it runs, so start-up loads commander and
 * nothing else. A new command is one block here: `.action(async (…) => set(await (await
 * import('./x.js')).xCommand(…, optionsOf(cmd, X), io)))`.
 */
import type { Command } from 'commander';
import { PROJECT_POLICY } from '../policy/project.js';
import type { Role } from '../types.js';
import { FAIL_ON, LINT_FORMATS, VERIFY_FORMATS, type FailOn, type LintFormat, type VerifyFormat } from './formats.js';
import type { Io } from './io.js';
import { addOptions, optionsOf, type OptionName, type Tweak } from './options.js';

type TextJson = 'text' | 'json';
const TEXT_JSON = ['text', 'json'] as const;

const TARGET = ['configFile', 'destination', 'version', 'erb'] as const;
const REGISTRY = ['platform', 'insecureRegistry', 'registryUsername', 'registryPasswordStdin', 'registryServer', 'timeout', 'cacheDir', 'cache', 'cacheMaxSize', 'stats'] as const;
const CHECKPOINT = ['checkpointKey', 'checkpointKeyless'] as const;
const SIGNERS = [
  'key',
  'certificateIdentity',
  'certificateIdentityRegexp',
  'certificateOidcIssuer',
  'certificateOidcIssuerRegexp',
  'certificateGithubWorkflowRepository',
  'certificateGithubWorkflowRef',
  'certificateGithubWorkflowName',
  'certificateGithubWorkflowSha',
  'insecureIgnoreTlog',
] as const;
const ATTESTATIONS = ['attestationOwner', 'attestationRepo', 'attestationSignerRepo', 'attestationSignerWorkflow', 'attestationOidcIssuer', 'predicateType', 'denySelfHostedRunners'] as const;

const VERIFY = [...TARGET, ...REGISTRY, 'ledger', 'format', 'jsonOutput', 'sarifOutput', 'requireRecorded', 'policy', 'quiet', 'trustedRoot', 'hosts', ...SIGNERS, ...ATTESTATIONS] as const;
const RECORD = [...TARGET, ...REGISTRY, 'ledger', 'format', ...CHECKPOINT, 'approveMove', 'approveConfig'] as const;
const DRIFT = [...REGISTRY, 'ledger', 'format', 'configFile', 'destination', 'erb', 'concurrency', 'quiet', 'watch', 'interval', 'metrics', 'webhook', 'shard', 'hosts'] as const;
const LEDGER_REPORT = ['ledger', 'format'] as const;
const LEDGER_SIGNED = ['ledger', 'format', ...CHECKPOINT] as const;
const TARGETS = [...TARGET, 'format'] as const;
const LINT = [...TARGET, 'format', 'policy', 'failOn'] as const;
const INSPECT = [...REGISTRY, 'format'] as const;
const POLICY_HELP = `policy file, or strict / baseline (a bare name, no / or .yml) for a shipped policy (default: ${PROJECT_POLICY} when present, else the built-in baseline)`;
const HOOK_DIR = ['dir'] as const;
const LEDGER_READ: Tweak = { help: 'the ledger holding the approved config (default .kamal/image-ledger.jsonl beside the Kamal config, or $KAMAL_GATE_LEDGER_URL)' };
const LEDGER_FILE: Tweak = { flags: '--ledger <path>', help: 'the ledger file, from the current folder (default .kamal/image-ledger.jsonl); it must be inside the git work tree' };

type Names<T extends readonly OptionName[]> = T[number];

/** `--erb`: the ways to read the config's ERB (no default here: $KAMAL_GATE_ERB applies when it is not given). */
const ERB: Tweak = { choices: ['safe', 'ruby'] };

/** Adds `names` to `cmd`, with `format` offering `formats` when given. */
function withOptions(cmd: Command, names: readonly OptionName[], formats?: readonly string[], tweaks: Partial<Record<OptionName, Tweak>> = {}): Command {
  const all = { erb: ERB, ...tweaks };
  return addOptions(cmd, names, formats ? { ...all, format: { choices: formats, ...tweaks.format } } : all);
}

export function registerCommands(program: Command, io: Io, set: (code: number) => void): void {
  const verify = withOptions(program.command('verify').argument('[refs...]', 'image references (default: the images of the Kamal config)'), VERIFY, VERIFY_FORMATS, {
    ledger: { no: true },
    hosts: { help: "also check, over SSH as Kamal connects, that every host holds the gated image under the reference Kamal boots (for Kamal's pre-deploy hook, after the hosts pulled)" },
  })
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
        "names that owner (and repository), GitHub's OIDC issuer, and a signer workflow of the repository (or owner, or signer).\n" +
        '\nExamples:\n  kamal-gate verify --version "$GITHUB_SHA"\n  kamal-gate verify -d staging --format json\n  kamal-gate verify --format sarif > kamal-gate.sarif   # also: github, junit\n  kamal-gate verify --format github --sarif-output kamal-gate.sarif --json-output report.json\n  kamal-gate verify ghcr.io/acme/app:1.4.2 --platform linux/arm64 --no-ledger\n' +
        '  kamal-gate verify --key cosign.pub\n' +
        '  kamal-gate verify --hosts --version "$KAMAL_VERSION"   # in .kamal/hooks/pre-deploy: what the hosts pulled\n' +
        '  kamal-gate verify --certificate-identity https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main \\\n' +
        '                    --certificate-oidc-issuer https://token.actions.githubusercontent.com\n' +
        '  kamal-gate verify --attestation-repo acme/app --deny-self-hosted-runners   # gh attestation verify oci://… --repo acme/app --deny-self-hosted-runners',
    );
  verify.action(async (refs: string[]) => {
    set(await (await import('./verify.js')).verifyCommand(refs, optionsOf<Names<typeof VERIFY>, { format: VerifyFormat }>(verify, VERIFY), io));
  });

  const record = withOptions(program.command('record').argument('[refs...]', 'image references (default: the images of the Kamal config)'), RECORD, TEXT_JSON)
    .description(
      'approve in the digest ledger what the pipeline pushed: tags never approved before, as they point now (run right after the push); a tag that moved is refused unless --approve-move names its new digest',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  kamal-gate record --version "$GITHUB_SHA"      # after kamal build push\n  kamal-gate record ghcr.io/acme/app:1.4.2 --ledger postgres://ci@db/ledger\n  kamal-gate record --approve-move registry.example.com/library/postgres:16@sha256:…   # a reviewed upgrade',
    );
  record.action(async (refs: string[]) => {
    set(await (await import('./record.js')).recordCommand(refs, optionsOf<Names<typeof RECORD>, { format: TextJson }>(record, RECORD), io));
  });

  const drift = withOptions(program.command('drift'), DRIFT, TEXT_JSON, {
    configFile: { help: 'Kamal config whose registry credentials to use (default config/deploy.yml when present)' },
    destination: { help: 'Kamal destination' },
    quiet: { help: 'print only what needs a person (drift, errors): nothing at all when every tag is as approved (for cron); JSON is always written' },
    hosts: {
      help: "also read what every app host of the Kamal config runs (over SSH): a container of the service started from an image other than the ledger's approved digest for its tag is host.unapproved_image",
    },
  })
    .description('re-resolve every tag in the ledger and report tags that were overwritten, rolled back or deleted')
    .addHelpText(
      'after',
      '\nExamples:\n  kamal-gate drift                                  # exit 1 when a tag drifted\n  kamal-gate drift --ledger "$KAMAL_GATE_LEDGER_URL" --format json --shard 1/4\n  kamal-gate drift --watch --interval 15m --metrics 127.0.0.1:9464 --webhook "$SLACK_WEBHOOK_URL"\n  kamal-gate drift --hosts -d production            # also what each host runs',
    );
  drift.action(async () => {
    set(await (await import('./drift.js')).driftCommand(optionsOf<Names<typeof DRIFT>, { format: TextJson }>(drift, DRIFT), io, io.isTty));
  });

  registerLedgerCommands(program.command('ledger').description('inspect the digest ledger'), io, set);

  const CONFIG_DIFF = ['configFile', 'destination', 'erb', 'ledger', 'from', 'format'] as const;
  const configDiff = withOptions(program.command('config').description('the effective deploy the pipeline approved').command('diff'), CONFIG_DIFF, ['text', 'json', 'github'], {
    ledger: LEDGER_READ,
  })
    .description('show the settings of the effective deploy (images, cmd, options, volumes, accessories, ssh, registry, …) that differ from the config approved in the ledger')
    .addHelpText(
      'after',
      '\nExit codes: 0 the same as approved, 1 settings differ, 2 error or no approved config.\n\nExamples:\n  kamal-gate config diff -d production\n  kamal-gate config diff --from v41 --format github   # annotations on the changed lines',
    );
  configDiff.action(async () => {
    set(await (await import('./config-diff.js')).configDiffCommand(optionsOf<Names<typeof CONFIG_DIFF>, { format: 'text' | 'json' | 'github' }>(configDiff, CONFIG_DIFF), io));
  });

  const targets = withOptions(program.command('targets'), TARGETS, TEXT_JSON)
    .description('list the images a deploy pulls, with the config line each comes from (no network)')
    .addHelpText('after', '\nExamples:\n  kamal-gate targets -d production --version v42\n  kamal-gate targets --erb ruby        # a config whose ERB runs Ruby (backticks, File.read, …)');
  targets.action(async () => {
    set(await (await import('./targets.js')).targetsCommand(optionsOf<Names<typeof TARGETS>, { format: TextJson }>(targets, TARGETS), io));
  });

  const lint = withOptions(program.command('lint'), LINT, LINT_FORMATS, { failOn: { choices: FAIL_ON } })
    .description(
      'find dangerous settings in the Kamal config: docker socket mounts, privileged containers, secrets in clear env or tracked by git, unchecked SSH host keys, latest and unpinned images (no network)',
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 no failing finding, 1 a finding at or above --fail-on (default high) or one the policy enforces, 2 config or policy error.\n\nExamples:\n  kamal-gate lint\n  kamal-gate lint --fail-on critical   # only critical findings fail (none: only what the policy enforces)\n  kamal-gate lint -d production --format sarif > lint.sarif   # also: json, github',
    );
  lint.action(async () => {
    set(await (await import('./lint.js')).lintCommand(optionsOf<Names<typeof LINT>, { format: LintFormat; failOn: FailOn }>(lint, LINT), io));
  });

  const inspect = withOptions(program.command('inspect').argument('<ref>', 'image reference'), INSPECT, TEXT_JSON)
    .description('show one image in detail: digest, media type, platforms, created time, labels, annotations')
    .addHelpText('after', '\nExample:\n  kamal-gate inspect docker.io/library/redis:7.4');
  inspect.action(async (ref: string) => {
    set(await (await import('./inspect.js')).inspectCommand(ref, optionsOf<Names<typeof INSPECT>, { format: TextJson }>(inspect, INSPECT), io));
  });

  const TRUST = ['cacheDir', 'mirror'] as const;
  const refresh = withOptions(program.command('trust').description('the Sigstore trusted root signatures are verified against').command('refresh'), TRUST, undefined, {
    cacheDir: { help: 'where to keep it (default $XDG_CACHE_HOME/kamal-gate)' },
  })
    .description('fetch the current public-good trusted root through TUF (online) and cache it for offline verification')
    .addHelpText('after', '\nExample:\n  kamal-gate trust refresh            # online, once in a while; verify then runs offline');
  refresh.action(async () => {
    set(await (await import('./trust.js')).trustRefreshCommand(optionsOf(refresh, TRUST), io));
  });
  const TRUST_SHOW = ['cacheDir', 'trustedRoot'] as const;
  const show = withOptions(program.commands.find((c) => c.name() === 'trust')!.command('show'), TRUST_SHOW, undefined, {
    cacheDir: { help: 'where `trust refresh` keeps it (default $XDG_CACHE_HOME/kamal-gate)' },
  })
    .description('print the trusted root verification uses now (the file given, the one refreshed, or the one shipped) and how old it is')
    .addHelpText('after', '\nExample:\n  kamal-gate trust show');
  show.action(async () => {
    set(await (await import('./trust.js')).trustShowCommand(optionsOf(show, TRUST_SHOW), io));
  });

  const hook = program.command('hook').description("install kamal-gate as Kamal's pre-deploy hook");
  const HOOK_INSTALL = ['dir', 'command'] as const;
  const install = withOptions(hook.command('install'), HOOK_INSTALL)
    .description('write .kamal/hooks/pre-deploy so every kamal deploy is verified first; an existing hook is kept and chained')
    .addHelpText(
      'after',
      '\nThe hook runs `kamal-gate verify --hosts --erb ruby --version "$KAMAL_VERSION"` (with -d "$KAMAL_DESTINATION" when Kamal sets it):\n' +
        'Ruby renders the config as the deploy just did (--command "--erb safe" to read it without running it).\n' +
        'It finds kamal-gate in $KAMAL_GATE_BIN, then ./node_modules/.bin, then PATH.\n\nExamples:\n  kamal-gate hook install\n  kamal-gate hook install --command "--policy .kamal/strict.yml --require-recorded"',
    );
  install.action(async () => {
    set(await (await import('./hook.js')).hookInstallCommand(optionsOf(install, HOOK_INSTALL), io));
  });
  const uninstall = withOptions(hook.command('uninstall'), HOOK_DIR)
    .description('remove the kamal-gate block from the pre-deploy hook (and the file, when kamal-gate created it)')
    .addHelpText('after', '\nExample:\n  kamal-gate hook uninstall');
  uninstall.action(async () => {
    set(await (await import('./hook.js')).hookUninstallCommand(optionsOf(uninstall, HOOK_DIR), io));
  });

  registerPolicyCommands(program.command('policy').description('write, check and explain the policy images are verified against'), io, set);
}

function registerLedgerCommands(ledger: Command, io: Io, set: (code: number) => void): void {
  const check = withOptions(ledger.command('verify'), LEDGER_REPORT, TEXT_JSON)
    .description('check the hash chain of the whole ledger and name the first broken entry')
    .addHelpText('after', '\nExample:\n  kamal-gate ledger verify --ledger .kamal/image-ledger.jsonl');
  check.action(async () => {
    set(await (await import('./ledger.js')).ledgerVerifyCommand(optionsOf<Names<typeof LEDGER_REPORT>, { format: TextJson }>(check, LEDGER_REPORT), io));
  });
  const show = withOptions(ledger.command('show').argument('[ref]', 'one tag (default: every tag)'), LEDGER_REPORT, TEXT_JSON)
    .description("show every tag with its approved digest, or one tag's history")
    .addHelpText('after', '\nExamples:\n  kamal-gate ledger show\n  kamal-gate ledger show ghcr.io/acme/app:v42');
  show.action(async (ref: string | undefined) => {
    set(await (await import('./ledger.js')).ledgerShowCommand(ref, optionsOf<Names<typeof LEDGER_REPORT>, { format: TextJson }>(show, LEDGER_REPORT), io));
  });
  const EXPORT = ['ledger', 'output'] as const;
  const exported = withOptions(ledger.command('export'), EXPORT).description('write every ledger entry as JSON').addHelpText('after', '\nExample:\n  kamal-gate ledger export -o ledger-backup.json');
  exported.action(async () => {
    set(await (await import('./ledger.js')).ledgerExportCommand(optionsOf(exported, EXPORT), io));
  });
  const checkpoint = withOptions(ledger.command('checkpoint'), LEDGER_SIGNED, TEXT_JSON)
    .description("sign the ledger's head (sequence, tip hash, time, ledger identity) and store the checkpoint beside it")
    .addHelpText(
      'after',
      '\nExamples:\n  kamal-gate ledger checkpoint --checkpoint-key ledger-checkpoint.key\n  COSIGN_PASSWORD=… kamal-gate ledger checkpoint --checkpoint-key cosign.key\n  kamal-gate ledger checkpoint --checkpoint-keyless          # in GitHub Actions, with id-token: write',
    );
  checkpoint.action(async () => {
    set(await (await import('./checkpoint-options.js')).ledgerCheckpointCommand(optionsOf<Names<typeof LEDGER_SIGNED>, { format: TextJson }>(checkpoint, LEDGER_SIGNED), io));
  });
  const forget = withOptions(ledger.command('forget').argument('<ref>', 'the tag to stop tracking (REGISTRY/REPOSITORY:TAG)'), LEDGER_SIGNED, TEXT_JSON)
    .description('stop tracking a tag (e.g. a base image tag an older version recorded), as a recorded event; a later record approves it afresh')
    .addHelpText('after', '\nExample:\n  kamal-gate ledger forget docker.io/library/ruby:3.3-slim');
  forget.action(async (ref: string) => {
    set(await (await import('./ledger-forget.js')).ledgerForgetCommand(ref, optionsOf<Names<typeof LEDGER_SIGNED>, { format: TextJson }>(forget, LEDGER_SIGNED), io));
  });

  const MERGE = ['keepConflicts'] as const;
  const mergeFile = withOptions(
    ledger
      .command('merge-file')
      .argument('<base>', "the common ancestor's ledger (git's %O)")
      .argument('<ours>', "our ledger, replaced by the merged ledger (git's %A)")
      .argument('<theirs>', "their ledger (git's %B)")
      .argument('[path]', "the ledger's path in the repository, for messages (git's %P)"),
    MERGE,
  )
    .description('merge two versions of the file ledger into OURS, keeping every entry of both in one chain (what the git merge driver runs)')
    .addHelpText(
      'after',
      '\nExit codes: 0 merged, 1 both branches approved different digests for a tag (OURS untouched), 2 a version is unreadable or does not verify.\n' +
        '\nExample (what git runs after `kamal-gate ledger merge-driver install`):\n  kamal-gate ledger merge-file %O %A %B %P',
    );
  mergeFile.action(async (base: string, ours: string, theirs: string, path: string | undefined) => {
    const keepConflicts = optionsOf(mergeFile, MERGE).keepConflicts === true;
    set(await (await import('./ledger-merge-file.js')).ledgerMergeFileCommand({ base, ours, theirs, path, keepConflicts }, io));
  });

  const driver = ledger.command('merge-driver').description('let git merge the file ledger of two branches instead of leaving a conflict');
  const LEDGER_ONLY = ['ledger'] as const;
  const install = withOptions(driver.command('install'), LEDGER_ONLY, undefined, { ledger: LEDGER_FILE })
    .description("register the ledger merge driver: a .gitattributes line for the ledger (and its checkpoint) and the driver in this clone's git config")
    .addHelpText(
      'after',
      '\nCommit .gitattributes; run this once in every clone that merges (the driver itself is local git config, never committed).\n' +
        '\nExample:\n  kamal-gate ledger merge-driver install && git add .gitattributes',
    );
  install.action(async () => {
    set(await (await import('./merge-driver.js')).mergeDriverInstallCommand(optionsOf<'ledger', { ledger?: string }>(install, LEDGER_ONLY), io));
  });
  const uninstall = withOptions(driver.command('uninstall'), LEDGER_ONLY, undefined, { ledger: LEDGER_FILE })
    .description("remove the lines install added to .gitattributes and the driver from this clone's git config")
    .addHelpText('after', '\nExample:\n  kamal-gate ledger merge-driver uninstall');
  uninstall.action(async () => {
    set(await (await import('./merge-driver.js')).mergeDriverUninstallCommand(optionsOf<'ledger', { ledger?: string }>(uninstall, LEDGER_ONLY), io));
  });
}

function registerPolicyCommands(policy: Command, io: Io, set: (code: number) => void): void {
  const INIT = ['path', 'force'] as const;
  const init = withOptions(policy.command('init'), INIT, undefined, { path: { default: PROJECT_POLICY } })
    .description('write a commented starter policy (the baseline, with every other setting shown commented out)')
    .addHelpText('after', '\nExamples:\n  kamal-gate policy init\n  kamal-gate policy init --path config/gate-policy.yml --force');
  init.action(async () => {
    set(await (await import('./policy.js')).policyInitCommand(optionsOf<Names<typeof INIT>, { path: string }>(init, INIT), io));
  });

  const CHECK = ['policy', 'format'] as const;
  const check = withOptions(policy.command('check'), CHECK, TEXT_JSON, { policy: { help: POLICY_HELP } })
    .description('validate a policy, listing every problem with file:line:column, and summarize its rules and exceptions (exit 0, or 2)')
    .addHelpText('after', '\nExamples:\n  kamal-gate policy check\n  kamal-gate policy check --policy policies/strict.yml');
  check.action(async () => {
    set(await (await import('./policy.js')).policyCheckCommand(optionsOf<Names<typeof CHECK>, { format: TextJson }>(check, CHECK), io));
  });

  const EXPLAIN = ['policy', 'role', 'format', ...TARGET] as const;
  const explain = withOptions(policy.command('explain').argument('<ref>', 'image reference (normalized as docker does: redis → docker.io/library/redis)'), EXPLAIN, TEXT_JSON, {
    policy: { help: POLICY_HELP },
    role: { choices: ['app', 'accessory', 'proxy'], help: "the image's role (default: its role in the Kamal config when it is one of its images, else app)" },
    configFile: { help: 'Kamal config to take the role from (default config/deploy.yml when present)' },
  })
    .description('show which rules apply to an image and why, and what it must satisfy, with the line that set each requirement')
    .addHelpText('after', '\nExamples:\n  kamal-gate policy explain ghcr.io/acme/app:v42\n  kamal-gate policy explain redis:7.4 --role accessory --policy policies/strict.yml');
  explain.action(async (ref: string) => {
    const roleGiven = explain.getOptionValueSource('role') !== 'default';
    set(await (await import('./policy.js')).policyExplainCommand(ref, { ...optionsOf<Names<typeof EXPLAIN>, { format: TextJson; role: Role }>(explain, EXPLAIN), roleGiven }, io));
  });

  policy
    .command('schema')
    .description('print the JSON Schema (draft 2020-12) of the policy file, for editors and CI')
    .addHelpText('after', '\nExample:\n  kamal-gate policy schema > policies/schema.json')
    .action(async () => {
      set(await (await import('./policy.js')).policySchemaCommand(io));
    });
}
