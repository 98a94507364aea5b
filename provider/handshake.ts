/**
 * go-plugin's handshake cookie for Terraform providers: Terraform sets it in the provider's environment, and a
 * provider started without it is being run by hand.
 */
export const MAGIC_COOKIE_KEY = 'TF_PLUGIN_MAGIC_COOKIE';
export const MAGIC_COOKIE_VALUE = 'd602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2';
