/**
 * Refresh token format and the sealing of successors.
 *
 * A refresh token is "rt_" + base64url(userId 16 | sessionId 16 | random 32 | mac 16), where mac is a
 * truncated HMAC over the first 64 bytes with a server key. Why each part:
 * - the ids let the session be found without a token -> session index (one key per session);
 * - the random part (256 bits) is the secret; the store keeps only SHA-256 of the whole token;
 * - the MAC proves we issued the token, so an older token of a session can be treated as theft
 *   (revoking the session) while a forged one is merely invalid: nobody can revoke a stranger's
 *   session by guessing its id.
 *
 * During the reuse grace window the store keeps the successor sealed (AES-256-GCM) under a key
 * derived from the predecessor and the server key: only a holder of the predecessor can recover it.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { constantTimeEqual, hmacSha256, randomBytesPooled, sha256Base64url } from './crypto.js';
import { bytesToUuid, uuidToBytes } from './uuid-bytes.js';

const PREFIX = 'rt_';
const ID_BYTES = 16;
const RANDOM_BYTES = 32;
const MAC_BYTES = 16;
const BODY_BYTES = ID_BYTES * 2 + RANDOM_BYTES;
const TOKEN_LENGTH = PREFIX.length + Math.ceil(((BODY_BYTES + MAC_BYTES) * 4) / 3);

export interface ParsedRefreshToken {
  userId: string;
  sessionId: string;
  /** SHA-256 (base64url) of the whole token: what the store compares. */
  hash: string;
}

export interface IssuedRefreshToken extends ParsedRefreshToken {
  token: string;
}

export function createRefreshTokenCodec(serverKey: Buffer) {
  const macKey = hmacSha256(serverKey, 'portcullis refresh-token mac');
  const sealKey = hmacSha256(serverKey, 'portcullis refresh-token seal');
  const mac = (body: Buffer) => hmacSha256(macKey, body).subarray(0, MAC_BYTES);
  const successorKey = (predecessor: string) => hmacSha256(sealKey, predecessor);

  return {
    issue(userId: string, sessionId: string): IssuedRefreshToken {
      const body = Buffer.concat([uuidToBytes(userId), uuidToBytes(sessionId), randomBytesPooled(RANDOM_BYTES)]);
      const token = PREFIX + Buffer.concat([body, mac(body)]).toString('base64url');
      return { token, userId, sessionId, hash: sha256Base64url(token) };
    },

    /** null for anything we did not issue: wrong shape, wrong length, or a MAC that does not verify. */
    parse(token: string): ParsedRefreshToken | null {
      if (token.length !== TOKEN_LENGTH || !token.startsWith(PREFIX)) return null;
      const encoded = token.slice(PREFIX.length);
      const raw = Buffer.from(encoded, 'base64url');
      // Only the canonical spelling: the digest is taken over the text, so an equivalent spelling
      // of a real token would otherwise read as an older token and revoke the session.
      if (raw.length !== BODY_BYTES + MAC_BYTES || raw.toString('base64url') !== encoded) return null;
      const body = raw.subarray(0, BODY_BYTES);
      if (!constantTimeEqual(mac(body), raw.subarray(BODY_BYTES))) return null;
      return {
        userId: bytesToUuid(body.subarray(0, ID_BYTES)),
        sessionId: bytesToUuid(body.subarray(ID_BYTES, ID_BYTES * 2)),
        hash: sha256Base64url(token),
      };
    },

    seal(successor: string, predecessor: string): string {
      const iv = randomBytesPooled(12);
      const cipher = createCipheriv('aes-256-gcm', successorKey(predecessor), iv);
      const sealed = Buffer.concat([cipher.update(successor, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, sealed, cipher.getAuthTag()]).toString('base64url');
    },

    /** The successor, or null when `sealed` was not sealed for this predecessor. */
    unseal(sealed: string, predecessor: string): string | null {
      const raw = Buffer.from(sealed, 'base64url');
      if (raw.length < 12 + 16 + 1) return null;
      try {
        const decipher = createDecipheriv('aes-256-gcm', successorKey(predecessor), raw.subarray(0, 12));
        decipher.setAuthTag(raw.subarray(raw.length - 16));
        return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString('utf8');
      } catch {
        return null;
      }
    },
  };
}

export type RefreshTokenCodec = ReturnType<typeof createRefreshTokenCodec>;
