import type { z } from 'zod';
import type { ErrorDetail } from '../errors';

const join = (path: readonly PropertyKey[]) => path.map(String).join('.');

/** zod issues as our error details: one per problem, each with its dotted field path. */
export function issuesToDetails(error: z.ZodError, prefix = ''): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  const at = (path: readonly PropertyKey[]) => [prefix, join(path)].filter(Boolean).join('.');
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) details.push({ path: at([...issue.path, key]), message: 'is not a known field' });
    } else if (issue.code === 'invalid_type' && /received undefined$/.test(issue.message)) {
      details.push({ path: at(issue.path), message: 'is required' });
    } else {
      details.push({ path: at(issue.path), message: issue.message });
    }
  }
  return details;
}
