import { describe, expect, it } from 'vitest';
import { issueRealtimeTicket, verifyRealtimeTicket } from './ticket.ts';

const secret = 'test-signing-secret-of-at-least-32-bytes';
const now = Date.UTC(2026, 0, 1, 12, 0, 0);

describe('realtime tickets', () => {
  it('vouches for the user it was issued to until it expires', () => {
    const ticket = issueRealtimeTicket(secret, 'user-42', 60, now);
    expect(verifyRealtimeTicket(secret, ticket, now)).toEqual({ userId: 'user-42', expiresAt: now / 1000 + 60 });
    expect(verifyRealtimeTicket(secret, ticket, now + 59_999)?.userId).toBe('user-42');
    expect(verifyRealtimeTicket(secret, ticket, now + 60_000)).toBeNull();
  });

  it('keeps user ids with dots and non-ASCII characters intact', () => {
    const ticket = issueRealtimeTicket(secret, 'ana.maría@example.com', 30, now);
    expect(verifyRealtimeTicket(secret, ticket, now)?.userId).toBe('ana.maría@example.com');
  });

  it('refuses a ticket signed with another secret, or with its user, expiry or signature changed', () => {
    const ticket = issueRealtimeTicket(secret, 'alice', 60, now);
    const [user = '', expiry = '', signature = ''] = ticket.split('.');
    const forgedUser = Buffer.from('mallory').toString('base64url');
    expect(verifyRealtimeTicket('another-secret-of-at-least-32-bytes!!', ticket, now)).toBeNull();
    expect(verifyRealtimeTicket(secret, `${forgedUser}.${expiry}.${signature}`, now)).toBeNull();
    expect(verifyRealtimeTicket(secret, `${user}.${Number(expiry) + 3600}.${signature}`, now)).toBeNull();
    expect(verifyRealtimeTicket(secret, `${user}.${expiry}.${signature.slice(0, -2)}AA`, now)).toBeNull();
  });

  it('refuses malformed tickets and an empty secret', () => {
    for (const ticket of ['', 'abc', 'a.b', 'a.b.c.d', '.123.sig', 'YWxpY2U.soon.sig', 'YWxpY2U.-1.sig']) {
      expect(verifyRealtimeTicket(secret, ticket, now), ticket).toBeNull();
    }
    expect(verifyRealtimeTicket('', issueRealtimeTicket(secret, 'alice', 60, now), now)).toBeNull();
  });

  it('refuses to issue a ticket without a secret, without a user, or living longer than an hour', () => {
    expect(() => issueRealtimeTicket('', 'alice', 60)).toThrow(/secret/);
    expect(() => issueRealtimeTicket(secret, '', 60)).toThrow(RangeError);
    expect(() => issueRealtimeTicket(secret, 'alice', 0)).toThrow(RangeError);
    expect(() => issueRealtimeTicket(secret, 'alice', 3601)).toThrow(RangeError);
    expect(() => issueRealtimeTicket(secret, 'alice', 1.5)).toThrow(RangeError);
  });
});
