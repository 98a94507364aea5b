/**
 * The only module that loads the CDK library and constructs. An app is built on cdktf or on its maintained fork,
 * cdktn, with the same API; the constructs must extend the classes of the very copy the app uses (a stack calls
 * internals of its resources and checks `instanceof`), so the library is a peer dependency: the app's own, looked up
 * from the app's directory first (then from here), chosen when the constructs load. The types are cdktf's (cdktn keeps
 * them).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as Cdk from 'cdktf';
import type * as ConstructsLibrary from 'constructs';

export const CDK_LIBRARIES = ['cdktf', 'cdktn'] as const;
export type CdkLibrary = (typeof CDK_LIBRARIES)[number];

// the app runs in its project directory (cdktf runs it there); from here covers a run from elsewhere
const resolvers = [createRequire(join(process.cwd(), 'package.json')), createRequire(__filename)];

/** Where `name` loads from, for the app; undefined when it is not installed. */
function locate(name: string): string | undefined {
  for (const resolver of resolvers) {
    try {
      return resolver.resolve(name);
    } catch {
      // not from this directory
    }
  }
  return undefined;
}

/** The libraries the app's package.json (the nearest one up from the working directory) depends on. */
function declaredByApp(): CdkLibrary[] {
  for (let dir = process.cwd(); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Record<string, string> | undefined>;
      const deps = { ...pkg.dependencies, ...pkg.devDependencies, ...pkg.peerDependencies };
      return CDK_LIBRARIES.filter((name) => name in deps);
    }
    if (dirname(dir) === dir) return [];
  }
}

/**
 * Which library: PORTICO_CDK_LIBRARY if set; else the one the app has already loaded; else the only one installed;
 * else the one the app's package.json names; else cdktf.
 */
function pickLibrary(): CdkLibrary {
  const forced = process.env.PORTICO_CDK_LIBRARY;
  if (forced) {
    if (!(CDK_LIBRARIES as readonly string[]).includes(forced))
      throw new Error(`PORTICO_CDK_LIBRARY must be one of ${CDK_LIBRARIES.join(', ')}, not ${JSON.stringify(forced)}`);
    return forced as CdkLibrary;
  }
  const installed = CDK_LIBRARIES.filter((name) => locate(name));
  const loaded = installed.filter((name) => locate(name)! in require.cache);
  if (loaded.length === 1) return loaded[0]!;
  if (installed.length === 1) return installed[0]!;
  if (installed.length === 0)
    throw new Error('portico/constructs needs cdktf or cdktn installed in the app (npm install cdktf constructs)');
  const declared = declaredByApp();
  return declared.length === 1 ? declared[0]! : 'cdktf';
}

/** The library the constructs use in this process. */
export const CDK_LIBRARY: CdkLibrary = pickLibrary();
const libraryPath = locate(CDK_LIBRARY);
if (!libraryPath) throw new Error(`PORTICO_CDK_LIBRARY is ${CDK_LIBRARY}, which is not installed in the app`);
const cdk = require(libraryPath) as typeof Cdk;
// constructs as the library itself resolves it (its peer dependency), so a Construct is the library's Construct
const constructs = createRequire(libraryPath)('constructs') as typeof ConstructsLibrary;

export const App = cdk.App;
export type App = Cdk.App;
export const TerraformStack = cdk.TerraformStack;
export type TerraformStack = Cdk.TerraformStack;
export const TerraformResource = cdk.TerraformResource;
export type TerraformResource = Cdk.TerraformResource;
export const TerraformDataSource = cdk.TerraformDataSource;
export type TerraformDataSource = Cdk.TerraformDataSource;
export const TerraformProvider = cdk.TerraformProvider;
export type TerraformProvider = Cdk.TerraformProvider;
export const TerraformOutput = cdk.TerraformOutput;
export type TerraformOutput = Cdk.TerraformOutput;
export const Annotations = cdk.Annotations;
export const Aspects = cdk.Aspects;
export const Manifest = cdk.Manifest;
export type { TerraformMetaArguments, TerraformResourceLifecycle, ITerraformDependable, IResolvable } from 'cdktf';
export const Construct = constructs.Construct;
export type Construct = ConstructsLibrary.Construct;
