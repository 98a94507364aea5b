import { join } from 'node:path';
import { Annotations, App, Aspects, Manifest, TerraformStack, type Construct } from './cdktf';
import { PorticoProvider as GeneratedPorticoProvider, type PorticoProviderConfig } from './generated/provider';
import { writeProviderLock } from './lock-file';

export type { PorticoProviderConfig };

/**
 * The portico provider block, as generated, plus the dependency lock file for the provider installed on this
 * machine, written into the stack's directory at synth (by an aspect: aspects run when a stack synthesizes):
 * `cdktf deploy`, `diff` and `destroy` then work offline with no flags.
 */
export class PorticoProvider extends GeneratedPorticoProvider {
  constructor(scope: Construct, id: string, config: PorticoProviderConfig = {}) {
    super(scope, id, config);
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
