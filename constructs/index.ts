/**
 * `portico/constructs`: CDKTF constructs for Portico, generated from the resource registry, plus higher-level ones.
 * cdktf's App and TerraformStack are re-exported so an app uses the same cdktf as the constructs.
 */
export * from './generated';
export { TenantOnboarding, type TenantOnboardingConfig } from './tenant-onboarding';
export { App, TerraformStack, TerraformOutput } from './cdktf';
