/**
 * The part rules of docs/ARCHITECTURE.md, checked by `npm run lint:deps` (part of `npm test`).
 * Paths are relative to the repository root. A test file (`*.test.ts`) belongs to the part it
 * sits in and follows its rules; it may also import test/support/, Node built-ins and
 * devDependencies, which product code may not.
 */

/** Test files: they run under vitest in Node and may use test support. */
const TEST_FILE = '\\.test\\.ts$';
/** What every part may import besides its own rules: test support, for its tests only. */
const TEST_SUPPORT = '^test/support/';
/** The runtime-neutral core. */
const CORE = '^lib/(protocol|crypto|client|format|invite|v4)/';
/** Every folder of ours; a rule "only X" forbids this minus X. */
const OURS = '^(lib|platform|browser|server|bridge|cli|app|bench|scripts|test|e2e)/';
/** The app: its folder and its files at the root, where Next.js wants them. */
const APP = '^(app/|proxy\\.ts$|next\\.config\\.mjs$)';
/** Product code: what ships. */
const PRODUCT = `^(lib|platform|browser|server|bridge|cli|app)/|${APP}`;

/** "`from` may import only its own folder, `allowed` and npm packages". */
function only(name, comment, from, allowed) {
  return {
    name,
    comment,
    severity: 'error',
    from: { path: from },
    to: { path: OURS, pathNot: [from, TEST_SUPPORT, ...allowed] },
  };
}

/** "`from` never imports `forbidden`". */
function never(name, comment, from, forbidden) {
  return { name, comment, severity: 'error', from: { path: from }, to: { path: forbidden } };
}

module.exports = {
  forbidden: [
    only('protocol-is-pure', 'lib/protocol imports nothing of ours.', '^lib/protocol/', []),
    only('format-is-pure', 'lib/format (text for people) imports nothing of ours.', '^lib/format/', []),
    only('crypto-only-protocol', 'lib/crypto may import lib/protocol only.', '^lib/crypto/', [
      '^lib/protocol/',
    ]),
    only('v4-only-protocol-and-crypto', 'lib/v4 may import lib/protocol and lib/crypto only.', '^lib/v4/', [
      '^lib/(protocol|crypto)/',
    ]),
    only(
      'invite-only-protocol-crypto',
      'lib/invite may import lib/protocol and lib/crypto only.',
      '^lib/invite/',
      ['^lib/(protocol|crypto)/'],
    ),
    only(
      'client-only-core',
      'lib/client may import lib/protocol, lib/crypto, lib/format and lib/v4 only.',
      '^lib/client/',
      ['^lib/(protocol|crypto|format|v4)/'],
    ),
    only(
      'platform-only-protocol',
      'platform/ (Node-only helpers) may import lib/protocol and lib/format only.',
      '^platform/',
      ['^lib/(protocol|format)/'],
    ),
    never(
      'server-not-clients',
      'The server never imports the client session, the bridge, the app, the browser adapter or the CLI.',
      '^server/',
      '^(lib/client|bridge|app|browser|cli)/',
    ),
    never(
      'bridge-relays-only',
      'The bridge uses lib/protocol for framing only: never crypto, the client, the server, the browser adapter, the app or the CLI.',
      '^bridge/',
      '^(lib/crypto|lib/client|server|browser|app|cli)/',
    ),
    only('browser-only-core', 'The browser adapter may import lib/ only.', '^browser/', [CORE]),
    only('app-only-core-and-browser', 'The app may import lib/ and the browser adapter only.', APP, [
      CORE,
      '^browser/',
    ]),
    only('cli-only-core-and-platform', 'The CLI may import lib/ and platform/ only.', '^cli/', [
      CORE,
      '^platform/',
    ]),
    {
      name: 'product-not-to-support',
      comment: 'No product code imports tests, test support, the bench, scripts or e2e.',
      severity: 'error',
      from: { path: PRODUCT, pathNot: TEST_FILE },
      to: { path: '^(test|bench|scripts|e2e)/' },
    },
    {
      name: 'lib-no-node',
      comment: 'lib/ is runtime-neutral: no Node built-ins (node:*, fs, net, crypto, buffer, ...).',
      severity: 'error',
      // fake-server.ts and test-helpers.ts are test support on their way to test/support/.
      from: { path: '^lib/', pathNot: [TEST_FILE, '^lib/client/(fake-server|test-helpers)\\.ts$'] },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'product-not-to-dev-deps',
      comment:
        'Product code imports only packages in "dependencies" (devDependencies are not installed in production).',
      severity: 'error',
      from: {
        path: PRODUCT,
        pathNot: [TEST_FILE, '^lib/client/(fake-server|test-helpers)\\.ts$'],
      },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-circular',
      comment: 'No circular imports.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-orphans',
      comment:
        'A product file nothing imports and that imports nothing is dead code (or a forgotten entry point).',
      severity: 'error',
      // platform/log.ts: until the server, bridge and CLI log through it.
      from: { orphan: true, path: PRODUCT, pathNot: ['\\.d\\.(c|m)?ts$', '^platform/log\\.ts$'] },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to no file.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-non-package-json',
      comment: 'An npm package that is not in package.json.',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // `depcruise .` with these left out, so a new folder is checked without editing the command.
    exclude: { path: '^(node_modules|\\.next|\\.git|test-results|playwright-report|bench-results|data)/' },
    // Type-only imports count: a type from the server in the app is still a boundary crossed.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
      extensions: ['.ts', '.tsx', '.mts', '.js', '.mjs', '.cjs', '.d.ts'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
