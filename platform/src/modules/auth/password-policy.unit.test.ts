import { describe, expect, it } from 'vitest';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, assertStrongPassword, checkNewPassword } from './password-policy.ts';

const tooShort = `must be at least ${MIN_PASSWORD_LENGTH} characters`;
const tooLong = `must be at most ${MAX_PASSWORD_LENGTH} characters`;
const common = 'is one of the most common passwords; choose something less guessable';
const isEmail = 'must not be your email address';

describe('the password policy', () => {
  it.each<[string, string, string | undefined, string | undefined]>([
    ['accepts a passphrase', 'correct horse battery staple', undefined, undefined],
    ['accepts an uncommon password of exactly the minimum length', 'x7#kq9!v', undefined, undefined],
    ['refuses one character short of the minimum', 'x7#kq9!', undefined, tooShort],
    ['refuses an empty password', '', undefined, tooShort],
    ['accepts exactly the maximum length', 'k'.repeat(MAX_PASSWORD_LENGTH - 1) + '!', undefined, undefined],
    ['refuses one character over the maximum', 'k'.repeat(MAX_PASSWORD_LENGTH) + '!', undefined, tooLong],
    ['counts characters, not UTF-16 units: eight emoji are long enough', '🦊🐙🦉🐝🦀🐌🦎🐢', undefined, undefined],
    ['counts characters, not UTF-16 units: four emoji are too short', '🦊🐙🦉🐝', undefined, tooShort],
    ['refuses a common password', 'iloveyou', undefined, common],
    ['refuses a common password whatever its case', 'PassWord', undefined, common],
    ['refuses the address as the password', 'Priya@Example.com', 'priya@example.com', isEmail],
    ['refuses the local part of the address', 'priya.sharma', 'priya.sharma@example.com', isEmail],
    ['accepts the address as a password when no address is known', 'priya.sharma', undefined, undefined],
    [
      'accepts a password that merely contains the local part',
      'priya.sharma.rocks',
      'priya.sharma@example.com',
      undefined,
    ],
    ['sets no composition rules: lower-case letters alone will do', 'plumtreeorchard', undefined, undefined],
  ])('%s', (_case, password, email, message) => {
    const problem = checkNewPassword(password, 'body.password', email);
    expect(problem).toEqual(message === undefined ? undefined : { field: 'body.password', message });
  });

  it('refuses a weak password with a 400 auth.weak_password naming the field', () => {
    expect(() => assertStrongPassword('iloveyou', 'body.newPassword')).toThrow(
      expect.objectContaining({
        status: 400,
        code: 'auth.weak_password',
        message: `Password ${common}`,
        errors: [{ field: 'body.newPassword', message: common }],
      }),
    );
  });

  it('lets a strong password through', () => {
    expect(() => assertStrongPassword('correct horse battery staple', 'body.password')).not.toThrow();
  });
});
