import { z } from 'zod';

const channel = z.enum(['in_app', 'email', 'sms']);

/** One notification type on one channel, and whether the user gets it. */
export const notificationPreference = z.object({
  type: z.string(),
  /** What people call this kind of message ("Care plan ready"). */
  title: z.string(),
  channel,
  enabled: z.boolean(),
  /** Sent whatever the preference (account and payment messages). */
  mandatory: z.boolean(),
});

/** The signed-in user's notification settings. */
export const preferencesAnswer = z.object({ preferences: z.array(notificationPreference).readonly() });

/** Turns one notification type on or off on one channel. */
export const setPreferenceBody = z.object({ type: z.string().max(200), channel, enabled: z.boolean() });
