/**
 * Password rules (NIST SP 800-63B): a minimum length from config, at most 256 characters (the
 * schema enforces that), and none of the 10,000 most common passwords. The list is the ranked
 * "passwords-common" dictionary shipped by @zxcvbn-ts/language-common; we take its first 10,000.
 */
import { dictionary } from '@zxcvbn-ts/language-common';
import { AppError } from '../errors.js';

export const COMMON_PASSWORD_COUNT = 10_000;

let commonPasswords: Set<string> | undefined;

function common(): Set<string> {
  commonPasswords ??= new Set((dictionary['passwords-common'] as string[]).slice(0, COMMON_PASSWORD_COUNT));
  return commonPasswords;
}

export function isCommonPassword(password: string): boolean {
  return common().has(password.toLowerCase());
}

export function assertPasswordAcceptable(password: string, minLength: number): void {
  // Length in code points, so a password of emoji is not rejected for its UTF-16 length.
  if ([...password].length < minLength) {
    throw new AppError('PASSWORD_TOO_SHORT', {
      details: [{ field: 'body/password', message: `must be at least ${minLength} characters` }],
    });
  }
  if (isCommonPassword(password)) {
    throw new AppError('PASSWORD_TOO_COMMON', { details: [{ field: 'body/password', message: 'is one of the 10,000 most common passwords' }] });
  }
}
