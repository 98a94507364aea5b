import type { ErrorDetail } from '../errors';
import { COMMON_PASSWORDS } from './common-passwords';

export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 256;

/**
 * The portal's password rules: 12 to 256 characters, not one character repeated, and not containing the email's
 * local part (when it is 4 characters or more), and not one of the most common passwords (common-passwords.ts,
 * compared lower-cased). Each broken rule is a detail at `password`.
 */
export function passwordProblems(password: string, email?: string): ErrorDetail[] {
  const problems: string[] = [];
  const length = [...password].length;
  if (length < PASSWORD_MIN) problems.push(`must be at least ${PASSWORD_MIN} characters long`);
  if (length > PASSWORD_MAX) problems.push(`must be at most ${PASSWORD_MAX} characters long`);
  if (length > 0 && new Set(password).size === 1) problems.push('must not be one character repeated');
  if (COMMON_PASSWORDS.has(password.toLowerCase()))
    problems.push('is one of the most common passwords (found in breached-password lists); choose another');
  const local = email?.split('@')[0]?.toLowerCase() ?? '';
  if (local.length >= 4 && password.toLowerCase().includes(local)) problems.push('must not contain your email address');
  return problems.map((message) => ({ path: 'password', message }));
}
