import { join } from 'node:path';
import { Annotations, App, Aspects, CDK_LIBRARY, Manifest, TerraformStack, type Construct } from './cdktf';
import { PorticoProvider as GeneratedPorticoProvider, type PorticoProviderConfig } from './generated/provider';
import { writeProviderLock } from './lock-file';

export type { PorticoProviderConfig };

/**
 * Fails early, in words, when the stack comes from another copy of the CDK library than the constructs loaded (an app
 * with both cdktf and cdktn that picked the other one): synth would fail later with an error about cdktf internals.
 */
function assertSameLibrary(provider: Construct): void {
  // isStack goes by a symbol both libraries share; instanceof tells the copies apart
  const stack = provider.node.scopes.find((scope) => TerraformStack.isStack(scope));
  const stackPath = stack?.node.path;
  if (!stack || stack instanceof TerraformStack) return;
  throw new Error(
    `portico/constructs use ${CDK_LIBRARY}, but the stack ${stackPath} is not a ${CDK_LIBRARY} ` +
      `TerraformStack: the app is built on another copy of cdktf or cdktn. Set PORTICO_CDK_LIBRARY to the library ` +
      'the app imports (cdktf or cdktn), or install only that one.',
  );
}

/**
 * The portico provider block, as generated, plus the dependency lock file for the provider installed on this
 * machine, written into the stack's directory at synth (by an aspect: aspects run when a stack synthesizes):
 * `cdktf deploy`, `diff` and `destroy` then work offline with no flags.
 */
export class PorticoProvider extends GeneratedPorticoProvider {
  constructor(scope: Construct, id: string, config: PorticoProviderConfig = {}) {
    super(scope, id, config);
    assertSameLibrary(this);
    Aspects.of(this).add({ visit: (node) => node === this && this.writeLockFile() });
  }

  private writeLockFile(): void {
    const stack = TerraformStack.of(this);
    // where cdktf writes the stack (Manifest.forStack) and runs terraform
    const stackDir = join(App.of(this).outdir, Manifest.stacksFolder, stack.node.id);
    const constraint = this.terraformGeneratorMetadata?.providerVersionConstraint;
    if (!writeProviderLock(stackDir, constraint)) {
      Annotations.of(this).addWarning(
        'No installed portico provider was found, so no .terraform.lock.hcl was written for it and cdktf will ask ' +
          'the public registry for one (`terraform providers lock`). Run `npx portico provider install` first.',
      );
    }
  }
}
