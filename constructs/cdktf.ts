/**
 * The only module that imports cdktf and constructs: moving to cdktf's fork (`cdktn`) is a change here alone.
 */
export { App, TerraformStack, TerraformResource, TerraformDataSource, TerraformProvider, TerraformOutput } from 'cdktf';
export type { TerraformMetaArguments, TerraformResourceLifecycle, ITerraformDependable, IResolvable } from 'cdktf';
export { Construct } from 'constructs';
