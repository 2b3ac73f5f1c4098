import type { AiPort } from '@ballast/platform';

export interface CarePlanInput {
  readonly displayName: string | null;
  readonly meteredSeconds: number;
  readonly startedAt: Date;
  readonly transcript: readonly { readonly role: string; readonly text: string }[];
  readonly summary: string | null;
}

/** Who wrote a care plan: the LLM provider the coach is configured with, or the template (local mode). */
export type CarePlanSource = 'anthropic' | 'gemini' | 'openai' | 'template';

export interface CarePlan {
  readonly source: CarePlanSource;
  readonly title: string;
  readonly body: string;
}

export interface CarePlanWriter {
  readonly source: CarePlanSource;
  write(input: CarePlanInput): Promise<CarePlan>;
}

function minutes(seconds: number): string {
  const whole = Math.floor(seconds / 60);
  const rest = seconds % 60;
  return whole === 0 ? `${rest} seconds` : rest === 0 ? `${whole} minutes` : `${whole} min ${rest} s`;
}

/**
 * The plan built from the session's own data, labelled as such: what local mode (no AI provider
 * configured) answers, so the whole flow (plan stored, shown, emailed) works on one machine.
 */
export function templatePlan(input: CarePlanInput): string {
  const said = input.transcript.filter((line) => line.role === 'user').map((line) => line.text.trim());
  const topics = said.length === 0 ? 'what you shared' : `"${said.slice(0, 3).join('", "')}"`;
  return [
    '(Template plan: no AI model is configured on this server, so this plan is built from your call data.)',
    '',
    `You talked with your coach for ${minutes(input.meteredSeconds)} on ${spokenDate(input.startedAt)}.`,
    input.summary === null ? '' : `Summary: ${input.summary}`,
    '',
    `1. Take five minutes today to write down how you feel about ${topics}.`,
    '2. Breathe slowly for two minutes, twice a day: in for four counts, out for six.',
    '3. Pick one small step you can take before your next call, and note when you did it.',
    '4. Book your next session while the conversation is fresh.',
  ]
    .filter((line, index, all) => !(line === '' && all[index - 1] === ''))
    .join('\n');
}

/**
 * Care plans through the platform's AI module (`ctx.ai`): the coach's configured provider writes
 * the plan from the call's transcript; in local mode the template above is the answer.
 */
export function createCarePlanWriter(ai: AiPort): CarePlanWriter {
  const source: CarePlanSource = ai.provider === 'local' ? 'template' : ai.provider;
  return {
    source,
    async write(input) {
      const conversation =
        input.transcript.length > 0
          ? input.transcript.map((line) => `${line.role}: ${line.text}`).join('\n')
          : (input.summary ?? '(no transcript)');
      const answer = await ai.generate({
        system: [
          'You are a supportive wellbeing coach. Write a short, practical personal care plan for the person',
          `below after a ${minutes(input.meteredSeconds)} coaching call. Use plain language, 4 to 6 numbered`,
          'steps, no medical diagnosis, and a kind closing line. Reply with the plan text only.',
        ].join('\n'),
        messages: [
          {
            role: 'user',
            content: [
              `Person: ${input.displayName ?? 'the caller'}`,
              'Conversation:',
              conversation.slice(0, 20_000),
            ].join('\n'),
          },
        ],
        maxOutputTokens: 1024,
        temperature: 0.4,
        localAnswer: templatePlan(input),
      });
      const body = answer.text.trim();
      // Thrown, so the task retries: an empty plan is not worth storing.
      if (body === '') throw new Error(`${answer.provider} returned an empty plan`);
      if (answer.local) return { source: 'template', title: 'Your care plan (template)', body };
      return { source, title: 'Your care plan', body };
    },
  };
}

/**
 * When the call was, for a plan that is emailed and read anywhere: "3 December 2026 at 11:31 UTC"
 * (the plan is written once, on the server, so it names its time zone rather than guess the reader's).
 */
function spokenDate(at: Date): string {
  return `${new Intl.DateTimeFormat('en-GB', { dateStyle: 'long', timeZone: 'UTC' }).format(at)} at ${new Intl.DateTimeFormat('en-GB', { timeStyle: 'short', timeZone: 'UTC' }).format(at)} UTC`;
}
