import { createHash } from 'node:crypto';
import nodemailer from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import { PermanentExternalError, type ExternalService } from '#platform/kernel/resilience/external-service.ts';
import type { EmailMessage, EmailSender } from './email.ts';

/** A Message-ID derived from the idempotency key: the same message always carries the same id. */
export function messageIdFor(idempotencyKey: string, domain: string): string {
  const hash = createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 32);
  return `<${hash}@${domain}>`;
}

function domainOf(address: string): string {
  const match = /@([^>\s]+)>?\s*$/.exec(address);
  return match?.[1] ?? 'ballast.local';
}

/**
 * Email through an SMTP server (nodemailer), with text and HTML alternatives and a Message-ID
 * derived from the idempotency key. Called through the `smtp` external service: a send is not
 * idempotent, so it is never retried inside the call (the delivery task retries); a 5xx answer
 * is a permanent refusal.
 */
export function createSmtpSender(options: { url: string; service: ExternalService; timeoutMs?: number }): EmailSender {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const defaults: SMTPTransport.Options = {
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  };
  const transport = nodemailer.createTransport(options.url, defaults);
  return {
    name: 'smtp',
    async send(message: EmailMessage) {
      const messageId = messageIdFor(message.idempotencyKey, domainOf(message.from));
      return options.service.call(
        async () => {
          try {
            const info = await transport.sendMail({
              from: message.from,
              to: message.to,
              subject: message.subject,
              text: message.text,
              html: message.html,
              messageId,
              ...(message.headers === undefined ? {} : { headers: { ...message.headers } }),
            });
            return { providerMessageId: info.messageId || messageId };
          } catch (error) {
            const code = (error as { responseCode?: number }).responseCode;
            if (code !== undefined && code >= 500) {
              throw new PermanentExternalError('smtp', `SMTP server refused the message: ${(error as Error).message}`, {
                status: code,
                cause: error,
              });
            }
            throw error;
          }
        },
        { idempotent: false },
      );
    },
  };
}
