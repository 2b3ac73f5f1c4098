import { describe, expect, it } from 'vitest';
import type { Access } from '#platform/kernel/http/request-context.ts';
import {
  PLATFORM_ADMIN,
  accessRefusal,
  canManage,
  checkRoleChange,
  decideAccess,
  requestableRole,
  type AccessDecision,
  type Caller,
  type RoleDefinition,
} from './access.ts';

const role = (name: string, extra: Partial<RoleDefinition> = {}): [string, RoleDefinition] => [
  name,
  { name, title: name, selfService: false, requiresApproval: false, approvers: [], ...extra },
];

const roles = new Map([
  role('desk:trader', { selfService: true }),
  role('desk:mediator', { selfService: true, requiresApproval: true, approvers: ['desk:lead'] }),
  role('desk:lead'),
]);

const caller = (active: readonly string[], pending: readonly string[] = []): Caller => ({
  id: 'caller',
  roles: active,
  pendingRoles: pending,
});

/** The error code a check throws, or undefined when it passes. */
function refusalOf(check: () => unknown): string | undefined {
  try {
    check();
    return undefined;
  } catch (error) {
    return (error as { code: string }).code;
  }
}

describe('route access', () => {
  const allow: AccessDecision = { outcome: 'allow' };
  it.each<[string, Access | undefined, Caller | null, AccessDecision]>([
    ['lets anyone call a route that declares nothing', undefined, null, allow],
    ['lets anyone call a public route', 'public', null, allow],
    ['asks an anonymous caller of a user route to sign in', 'user', null, { outcome: 'unauthenticated' }],
    ['lets any signed-in caller call a user route', 'user', caller([]), allow],
    ['asks an anonymous caller of a role route to sign in', ['desk:trader'], null, { outcome: 'unauthenticated' }],
    ['lets a holder of one of the roles in', ['desk:trader', 'desk:lead'], caller(['desk:lead']), allow],
    ['lets a platform admin into any role route', ['desk:trader'], caller([PLATFORM_ADMIN]), allow],
    ['refuses a caller holding none of the roles', ['desk:trader'], caller(['coach:user']), { outcome: 'forbidden' }],
    [
      'tells a caller who asked for the role that it awaits approval, naming it',
      ['desk:mediator', 'desk:lead'],
      caller([], ['desk:mediator']),
      { outcome: 'awaiting_approval', roles: ['desk:mediator'] },
    ],
    [
      'lets a caller in on an active role even while another awaits approval',
      ['desk:mediator', 'desk:trader'],
      caller(['desk:trader'], ['desk:mediator']),
      allow,
    ],
    [
      'refuses a caller whose pending request is for another role',
      ['desk:lead'],
      caller([], ['desk:mediator']),
      { outcome: 'forbidden' },
    ],
    ['refuses everyone a route open to no role', [], caller(['desk:lead']), { outcome: 'forbidden' }],
    ['lets a platform admin into a route open to no role', [], caller([PLATFORM_ADMIN]), allow],
  ])('%s', (_case, access, who, decision) => {
    expect(decideAccess(access, who)).toEqual(decision);
  });

  it.each<[AccessDecision, number | undefined, string | undefined]>([
    [{ outcome: 'allow' }, undefined, undefined],
    [{ outcome: 'unauthenticated' }, 401, 'auth.unauthenticated'],
    [{ outcome: 'awaiting_approval', roles: ['desk:mediator'] }, 403, 'auth.awaiting_approval'],
    [{ outcome: 'forbidden' }, 403, 'auth.forbidden'],
  ])('answers %o with status %s and code %s', (decision, status, code) => {
    const refusal = accessRefusal(decision);
    expect(refusal?.status).toBe(status);
    expect(refusal?.code).toBe(code);
  });

  it('names the roles awaiting approval in the refusal', () => {
    expect(accessRefusal({ outcome: 'awaiting_approval', roles: ['desk:mediator'] })?.details).toEqual({
      roles: ['desk:mediator'],
    });
  });
});

describe('who may manage a role', () => {
  it.each<[string, readonly string[], string, boolean]>([
    ['a platform admin manages an app role', [PLATFORM_ADMIN], 'desk:mediator', true],
    ['a platform admin manages the admin role', [PLATFORM_ADMIN], PLATFORM_ADMIN, true],
    ['a platform admin manages a role nobody offers', [PLATFORM_ADMIN], 'desk:unknown', true],
    ['an approver manages the role they approve', ['desk:lead'], 'desk:mediator', true],
    ['an approver does not manage a role they do not approve', ['desk:lead'], 'desk:trader', false],
    ['a holder does not manage their own role', ['desk:mediator'], 'desk:mediator', false],
    ['nobody else manages the admin role', ['desk:lead'], PLATFORM_ADMIN, false],
    ['nobody else manages a role nobody offers', ['desk:lead'], 'desk:unknown', false],
    ['a caller without roles manages nothing', [], 'desk:trader', false],
  ])('%s', (_case, held, target, expected) => {
    expect(canManage({ roles: held }, target, roles)).toBe(expected);
  });
});

describe('changing the roles of a user', () => {
  const admin = { id: 'admin', roles: [PLATFORM_ADMIN] };
  const lead = { id: 'lead', roles: ['desk:lead'] };
  it.each<[string, { id: string; roles: string[] }, string, string[], string[], string | undefined]>([
    ['an admin grants and removes app roles', admin, 'someone', ['desk:trader'], ['desk:lead'], undefined],
    ['an admin grants the admin role', admin, 'someone', [PLATFORM_ADMIN], [], undefined],
    ['an admin removes another admin', admin, 'someone', [], [PLATFORM_ADMIN], undefined],
    ['an admin may not remove their own admin role', admin, 'admin', [], [PLATFORM_ADMIN], 'auth.cannot_demote_self'],
    ['a role nobody offers is refused, even to an admin', admin, 'someone', ['desk:ghost'], [], 'auth.unknown_role'],
    ['an approver grants the role they approve', lead, 'someone', ['desk:mediator'], [], undefined],
    ['an approver may not grant another role', lead, 'someone', ['desk:trader'], [], 'auth.cannot_grant'],
    ['an approver may not remove another role', lead, 'someone', [], ['desk:lead'], 'auth.cannot_grant'],
    ['an approver may not grant the admin role', lead, 'someone', [PLATFORM_ADMIN], [], 'auth.cannot_grant'],
    ['an empty change passes', lead, 'someone', [], [], undefined],
  ])('%s', (_case, who, userId, add, remove, code) => {
    expect(refusalOf(() => checkRoleChange(who, userId, { add, remove }, roles))).toBe(code);
  });
});

describe('the role a registration asks for', () => {
  it.each<[string, string | undefined, string | undefined, string | undefined]>([
    ['none asked for is none', undefined, undefined, undefined],
    ['a self-service role is given', 'desk:trader', 'desk:trader', undefined],
    ['a self-service role that needs approval is given', 'desk:mediator', 'desk:mediator', undefined],
    ['a role users may not ask for is refused', 'desk:lead', undefined, 'auth.unknown_role'],
    ['a role nobody offers is refused', 'desk:ghost', undefined, 'auth.unknown_role'],
    ['the admin role is refused', PLATFORM_ADMIN, undefined, 'auth.unknown_role'],
  ])('%s', (_case, asked, given, code) => {
    expect(refusalOf(() => requestableRole(asked, roles))).toBe(code);
    if (code === undefined) expect(requestableRole(asked, roles)?.name).toBe(given);
  });
});
