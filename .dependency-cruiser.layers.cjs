// The vocabulary of docs/layers.md (which folders are domains, which are pure cores, which files of a
// domain are not services), as regular-expression fragments. Read by .dependency-cruiser.cjs (the
// rules) and by test/architecture/dependencies.test.ts (the domain graph, a rule dependency-cruiser
// cannot state), so both name the same files. It lives in its own file because dependency-cruiser
// rejects any key of its configuration it does not know.
//
// Paths are relative to the repository root (`src/payouts/store.ts`); ROOT also admits the fixture
// tree under `test/architecture/fixtures/`. Every group is non-capturing.

const ROOT = '^(?:test/architecture/fixtures/)?';

/** The domain folders of src/. */
const DOMAINS = 'members|settlements|benefits|payouts|reconciliation|banks|seals|events|notifications|notices|attachments|applications|appeals|organisations|condolences|figures';

/** The pure cores, as folders of src/. */
const CORE_FOLDERS = 'benefits/rules|banks/iso20022|reconciliation/matching|seals/cms';

/**
 * Files of `src/<domain>/` (names relative to that folder) that are not services: models, stores,
 * queue definitions, entry points and simulators. settings.ts is not among them: the dependency
 * rules leave it out of their service rules, the domain graph counts it as a service.
 */
const NOT_SERVICE_FILES =
  'model\\.ts$|store\\.ts$|store/|queue\\.ts$|resolvers\\.ts$|loaders\\.ts$|cli\\.ts$|simulator/';

module.exports = { ROOT, DOMAINS, CORE_FOLDERS, NOT_SERVICE_FILES };
