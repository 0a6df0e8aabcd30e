// The dependency rule of docs/layers.md, as dependency-cruiser rules.
// test/architecture/dependencies.test.ts runs them over src/ and jobs/ and fails on any violation.
//
// Paths are matched against names relative to the repository root (`src/payouts/store.ts`). The
// optional `test/architecture/fixtures/` prefix lets the same rules run over the small fixture tree
// that proves they bite; it never matches anything in the real tree (and, unlike a bare `(^|/)src/`,
// never matches a package's own `src/` folder under node_modules). Every prefix group is
// non-capturing: rules that say "own domain" or "own core" use `$1`, the first capturing group of
// `from.path`.

// ROOT, DOMAINS, CORE_FOLDERS and NOT_SERVICE_FILES are shared with the domain-graph test.
const { ROOT, DOMAINS, CORE_FOLDERS, NOT_SERVICE_FILES } = require('./.dependency-cruiser.layers.cjs');

const SRC = `${ROOT}src/`;
const JOBS = `${ROOT}jobs/`;

// 1. kernel
const KERNEL = `${SRC}kernel/`;
// 2. pure cores
const CORES = `${SRC}(?:${CORE_FOLDERS})/`;
// 3. platform
const PLATFORM =
  `${SRC}(?:config\\.ts$|log\\.ts$|csv\\.ts$|progress\\.ts$|cliOutput\\.ts$|cliErrors\\.ts$|queues\\.ts$` +
  `|db/|privacy/|audit/)`;
// 4. domain roles, by file name
const ANY_MODEL = `${SRC}(?:${DOMAINS})/model\\.ts$`;
const ANY_ENTRY = `${SRC}(?:${DOMAINS})/(?:resolvers|loaders|cli)\\.ts$`;
const ANY_CLI = `${SRC}(?:${DOMAINS})/cli\\.ts$`;
const ANY_SIMULATOR = `${SRC}(?:${DOMAINS})/simulator/`;
// services: every other file of a domain folder
const NOT_SERVICE = `${SRC}(?:${DOMAINS})/(?:${NOT_SERVICE_FILES}|settings\\.ts$)|${CORES}`;
// 5. gateway
const GATEWAY = `${SRC}gateway/`;

// Node builtins that reach a disk, a socket or another process: never in the kernel or a core.
const IO_BUILTINS =
  '^(?:node:)?(?:fs|fs/promises|net|http|https|http2|tls|dgram|dns|dns/promises|child_process|cluster|worker_threads|readline)$';
// The npm libraries a core may use (they do no I/O). Anything else (pg, ioredis, bullmq, a logger, a
// parser that reads files) is flagged: a core gets what it needs as arguments.
const CORE_PACKAGES = 'node_modules/(?:@types/)?(?:node-forge|pkijs|fast-xml-parser|zod)/';
const NPM = ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    // ---- composition root ---------------------------------------------------------------------
    {
      name: 'src-never-imports-jobs',
      comment: 'jobs/ is the composition root: it imports src/, never the other way round.',
      severity: 'error',
      from: { path: SRC },
      to: { path: JOBS },
    },

    // ---- kernel -------------------------------------------------------------------------------
    {
      name: 'kernel-imports-nothing-of-src',
      comment: 'The kernel is the bottom layer: no domain, platform or gateway imports.',
      severity: 'error',
      from: { path: KERNEL },
      to: { path: SRC, pathNot: KERNEL },
    },
    {
      name: 'kernel-imports-only-builtins-and-pg-types',
      comment: 'The kernel imports node builtins and, type-only, pg (for the transaction handle).',
      severity: 'error',
      from: { path: KERNEL },
      to: {
        dependencyTypes: NPM,
        pathNot: 'node_modules/(?:@types/)?pg/',
      },
    },
    {
      name: 'kernel-imports-pg-only-as-types',
      comment: 'The kernel names pg types (Db, Tx); it never runs a query.',
      severity: 'error',
      from: { path: KERNEL },
      to: { path: 'node_modules/(?:@types/)?pg/', dependencyTypesNot: ['type-only'] },
    },

    // ---- pure cores ---------------------------------------------------------------------------
    {
      name: 'core-imports-kernel-and-own-core-only',
      comment:
        'A pure core (benefits/rules, banks/iso20022, reconciliation/matching, seals/cms) imports ' +
        'the kernel and its own folder, nothing else of src/.',
      severity: 'error',
      from: { path: `${SRC}(${CORE_FOLDERS})/` },
      to: { path: SRC, pathNot: `${KERNEL}|${SRC}$1/` },
    },
    {
      name: 'kernel-and-cores-do-no-io',
      comment:
        'No file system, network or child process in the kernel or a pure core (their npm imports ' +
        'are limited by the two rules around this one).',
      severity: 'error',
      from: { path: `${KERNEL}|${CORES}` },
      to: { dependencyTypes: ['core'], path: IO_BUILTINS, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'core-npm-packages-allowed-list',
      comment: 'A pure core uses only npm libraries that do no I/O: node-forge, pkijs, fast-xml-parser, zod.',
      severity: 'error',
      from: { path: CORES },
      to: {
        dependencyTypes: NPM,
        pathNot: CORE_PACKAGES,
      },
    },

    // ---- platform -----------------------------------------------------------------------------
    {
      name: 'platform-imports-kernel-and-platform-only',
      comment: 'config, log, db, privacy, audit, csv, progress, cliOutput, cliErrors, queues sit under every domain.',
      severity: 'error',
      from: { path: PLATFORM },
      to: { path: SRC, pathNot: `${KERNEL}|${PLATFORM}` },
    },

    // ---- domain roles -------------------------------------------------------------------------
    {
      name: 'model-imports-kernel-and-cores-only',
      comment: 'model.ts holds types, status unions and transition tables: kernel and cores only.',
      severity: 'error',
      from: { path: ANY_MODEL },
      to: { path: SRC, pathNot: `${KERNEL}|${CORES}` },
    },
    {
      name: 'store-imports-kernel-platform-models-cores-only',
      comment:
        "A store holds its domain's SQL: it imports the kernel, the platform, models, cores and its " +
        'own store files. Never the gateway, never a service, never another store.',
      severity: 'error',
      from: { path: `${SRC}(${DOMAINS})/store(?:\\.ts$|/)` },
      to: { path: SRC, pathNot: `${KERNEL}|${PLATFORM}|${ANY_MODEL}|${CORES}|${SRC}$1/store(?:\\.ts$|/)` },
    },
    {
      name: 'queue-imports-kernel-platform-own-model-only',
      comment: 'queue.ts holds job payloads, ids and enqueue functions: kernel, platform (src/queues.ts), own model.',
      severity: 'error',
      from: { path: `${SRC}(${DOMAINS})/queue\\.ts$` },
      to: { path: SRC, pathNot: `${KERNEL}|${PLATFORM}|${SRC}$1/model\\.ts$` },
    },
    {
      name: 'service-not-gateway',
      comment: 'Services throw DomainError and return domain values; GraphQL lives in resolvers and the gateway.',
      severity: 'error',
      from: { path: `${SRC}(?:${DOMAINS})/`, pathNot: NOT_SERVICE },
      to: { path: GATEWAY },
    },
    {
      name: 'service-not-resolvers-loaders-cli',
      comment: 'Entry points (resolvers.ts, loaders.ts, cli.ts) call services, not the other way round.',
      severity: 'error',
      from: { path: `${SRC}(?:${DOMAINS})/`, pathNot: NOT_SERVICE },
      to: { path: ANY_ENTRY },
    },
    {
      name: 'simulator-only-from-simulators-cli-jobs',
      comment:
        'Simulators of outside systems are tools: only other simulator code, a cli.ts and jobs/ ' +
        'may import them.',
      severity: 'error',
      from: { path: SRC, pathNot: `${ANY_SIMULATOR}|${ANY_CLI}|${SRC}cli\\.ts$` },
      to: { path: ANY_SIMULATOR },
    },
    {
      name: 'no-import-cycles',
      comment:
        'Dependencies point one way: no import cycle anywhere in src/ or jobs/, within a folder or ' +
        'across (type-only imports count). Break one by moving the shared piece down (a model, the ' +
        'kernel) or into its own file, or by passing a function in.',
      severity: 'error',
      from: { path: `${SRC}|${JOBS}` },
      to: { circular: true },
    },
  ],
  options: {
    // type-only imports are dependencies too: a store naming a gateway type is still tied to it
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(?:^|/)src/gateway/generated/' },
    tsConfig: { fileName: './tsconfig.json' },
    moduleSystems: ['es6', 'cjs'],
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.d.ts', '.js', '.mjs', '.cjs', '.json'],
    },
  },
};
