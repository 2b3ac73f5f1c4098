/** One text message to send; `to` in E.164 form (+14155550100). */
export interface SmsMessage {
  readonly to: string;
  readonly body: string;
  /** Stable across retries of the same message. */
  readonly idempotencyKey: string;
}

/** Something that hands an SMS over: Twilio, or the development inbox. */
export interface SmsSender {
  readonly name: string;
  send(message: SmsMessage): Promise<{ providerMessageId: string }>;
}
