import type { z } from 'zod';

/** Where a notification can go. */
export const channels = ['in_app', 'email', 'sms'] as const;
export type Channel = (typeof channels)[number];

/** A notification rendered for its channels. */
export interface RenderedNotification {
  /** In-app title and email subject. */
  readonly title: string;
  /** Plain text: the in-app body, the email's text part, and the SMS unless `sms` is given. */
  readonly text: string;
  /** The email's HTML content (placed inside Ballast's email layout); escaped text when omitted. */
  readonly html?: string;
  /** A shorter text for SMS. */
  readonly sms?: string;
  /** Where the in-app notification leads, e.g. `/coach/plans/123`. */
  readonly link?: string;
  /**
   * The app the message is about, when a platform notification speaks for one (a receipt for a
   * coach pack): its title names the product in the email. Defaults to the type's prefix.
   */
  readonly app?: string;
}

/** A kind of notification: its data, its channels, and its template. */
export interface NotificationDefinition<Schema extends z.ZodType = z.ZodType> {
  /** `app.thing-happened`, e.g. `coach.care-plan-ready`, `platform.password-reset`. */
  readonly type: string;
  /** What people call this kind of message, on their notification settings ("Care plan ready"). */
  readonly title: string;
  readonly data: Schema;
  readonly channels: readonly Channel[];
  /** Sent whatever the user's preferences (password reset, receipts). */
  readonly mandatory: boolean;
  readonly render: (data: z.output<Schema>) => RenderedNotification;
}

const typeName = /^[a-z][a-z0-9]*(\.[a-z][a-z0-9-]*)+$/;

/** Declares a notification type. */
export function defineNotification<Schema extends z.ZodType>(options: {
  readonly type: string;
  /**
   * What people call this kind of message, shown on their notification settings ("Care plan
   * ready"), with the type as secondary text.
   */
  readonly title: string;
  readonly data: Schema;
  readonly channels: readonly Channel[];
  readonly mandatory?: boolean;
  readonly render: (data: z.output<Schema>) => RenderedNotification;
}): NotificationDefinition<Schema> {
  if (!typeName.test(options.type)) {
    throw new Error(`notification type "${options.type}" must read app.thing-happened, e.g. coach.care-plan-ready`);
  }
  if (options.channels.length === 0) throw new Error(`notification ${options.type} needs at least one channel`);
  if (options.title.trim() === '') throw new Error(`notification ${options.type} needs a title (what people call it)`);
  return Object.freeze({ ...options, mandatory: options.mandatory ?? false });
}
