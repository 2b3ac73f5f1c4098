import { MAX_PASSWORD_LENGTH } from '@ballast/contracts/auth';
import { dictionary } from '@zxcvbn-ts/language-common';
import { AppError, type FieldError } from '#platform/kernel/errors/errors.ts';

export const MIN_PASSWORD_LENGTH = 8;
// One limit for the policy and the request schemas that let a longer password through to it.
export { MAX_PASSWORD_LENGTH };

/** The ~49,000 most common passwords (zxcvbn-ts's list, most common first), lower-cased. */
const commonPasswords = new Set(
  (dictionary as Record<string, readonly string[]>)['passwords-common']!.map((word) => word.toLowerCase()),
);

/** The number of common passwords refused (for the docs and tests). */
export const commonPasswordCount = commonPasswords.size;

/**
 * Checks a new password the NIST 800-63B way: length 8 to 128, no composition rules, and not one
 * of the common passwords (or the user's email).
 */
export function checkNewPassword(password: string, field: string, email?: string): FieldError | undefined {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH) {
    return { field, message: `must be at least ${MIN_PASSWORD_LENGTH} characters` };
  }
  if (length > MAX_PASSWORD_LENGTH) return { field, message: `must be at most ${MAX_PASSWORD_LENGTH} characters` };
  const lowered = password.toLowerCase();
  if (commonPasswords.has(lowered)) {
    return { field, message: 'is one of the most common passwords; choose something less guessable' };
  }
  if (email !== undefined && (lowered === email.toLowerCase() || lowered === email.split('@')[0]?.toLowerCase())) {
    return { field, message: 'must not be your email address' };
  }
  return undefined;
}

/** Refuses a password `checkNewPassword` finds fault with: a 400 `auth.weak_password` naming the field. */
export function assertStrongPassword(password: string, field: string, email?: string): void {
  const problem = checkNewPassword(password, field, email);
  if (problem !== undefined) {
    throw new AppError('invalid_input', 'auth.weak_password', `Password ${problem.message}`, { errors: [problem] });
  }
}
