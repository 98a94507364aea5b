/**
 * `portico/constructs`: CDKTF constructs for Portico, generated from the resource registry, plus higher-level ones.
 * The CDK library's App and TerraformStack are re-exported so an app uses the same copy of cdktf (or cdktn) as the
 * constructs; CDK_LIBRARY says which one that is.
 */
export * from './generated';
// the provider construct that also writes the lock file (an explicit export wins over the generated one above)
export { PorticoProvider, type PorticoProviderConfig } from './provider';
export { TenantOnboarding, type TenantOnboardingConfig } from './tenant-onboarding';
export { App, TerraformStack, TerraformOutput, CDK_LIBRARY } from './cdktf';
