/** One email to send. */
export interface EmailMessage {
  readonly to: string;
  readonly from: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  /** Stable across retries of the same message; providers derive their message id from it. */
  readonly idempotencyKey: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Something that hands an email over: an SMTP server, or the development inbox. */
export interface EmailSender {
  readonly name: string;
  send(message: EmailMessage): Promise<{ providerMessageId: string }>;
}
