import { PermanentExternalError, type ExternalService } from '#platform/kernel/resilience/external-service.ts';
import type { SmsMessage, SmsSender } from './sms.ts';

export interface TwilioOptions {
  readonly accountSid: string;
  readonly authToken: string;
  /** An E.164 number, or a Messaging Service SID (`MG...`). */
  readonly from: string;
  readonly baseUrl: string;
  readonly service: ExternalService;
}

interface TwilioError {
  readonly code?: number;
  readonly message?: string;
  readonly more_info?: string;
  readonly status?: number;
}

/**
 * SMS through Twilio's Messages API (`POST /2010-04-01/Accounts/{sid}/Messages.json`, form
 * encoded, HTTP Basic auth). A 4xx answer is a permanent refusal (bad number, bad credentials);
 * 5xx and network errors are failures the delivery task retries.
 */
export function createTwilioSender(options: TwilioOptions): SmsSender {
  const url = new URL(`/2010-04-01/Accounts/${encodeURIComponent(options.accountSid)}/Messages.json`, options.baseUrl);
  const authorization = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
  return {
    name: 'twilio',
    async send(message: SmsMessage) {
      const form = new URLSearchParams({ To: message.to, Body: message.body });
      form.set(options.from.startsWith('MG') ? 'MessagingServiceSid' : 'From', options.from);
      return options.service.call(
        async (signal) => {
          const response = await fetch(url, {
            method: 'POST',
            headers: {
              authorization,
              'content-type': 'application/x-www-form-urlencoded',
              accept: 'application/json',
            },
            body: form,
            signal,
          });
          const body = (await response.json().catch(() => ({}))) as TwilioError & { sid?: string };
          if (response.ok && typeof body.sid === 'string') return { providerMessageId: body.sid };
          const detail = `Twilio answered ${response.status}${body.code === undefined ? '' : ` (error ${body.code})`}: ${body.message ?? response.statusText}`;
          if (response.status >= 400 && response.status < 500 && response.status !== 429) {
            throw new PermanentExternalError('twilio', detail, { status: response.status });
          }
          throw new Error(detail);
        },
        { idempotent: false },
      );
    },
  };
}
