import type { AdminUserSection } from '@ballast/platform';
import { endReasonText } from '../shared/calls.ts';
import type { CoachContext } from './coach.service.ts';

/** How an ended call ended, for an administrator (the caller's sentence, without "you"). */
const endedBy: Readonly<Record<string, string>> = {
  hung_up: 'caller hung up',
  heartbeat_lost: 'connection lost',
  balance_exhausted: 'talk-time ran out',
  operator: 'ended by an operator',
  shutdown: 'server shut down',
};

/**
 * What an administrator sees of one user in the coach beyond balance and purchases: their calls,
 * newest first (the platform's admin user page shows it as a table).
 */
export async function coachAdminUser(userId: string, ctx: CoachContext): Promise<readonly AdminUserSection[]> {
  const calls = await ctx.metering.list(userId);
  return [
    {
      title: 'Calls',
      empty: 'No calls yet.',
      columns: [
        { key: 'startedAt', label: 'Started', format: 'datetime' },
        { key: 'meteredSeconds', label: 'Length', format: 'duration' },
        { key: 'ended', label: 'How it ended', format: 'text' },
        { key: 'owes', label: 'Still owed', format: 'duration' },
      ],
      rows: calls.map((call) => ({
        startedAt: call.startedAt.toISOString(),
        meteredSeconds: call.meteredSeconds,
        ended:
          call.status === 'active'
            ? 'in progress'
            : call.endReason === null
              ? ''
              : (endedBy[call.endReason] ?? endReasonText[call.endReason] ?? call.endReason),
        owes: call.unsettledSeconds,
      })),
    },
  ];
}
