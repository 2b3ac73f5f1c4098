import { GoogleGenAI } from '@google/genai';
import { PermanentExternalError, type ExternalService } from '@ballast/platform';

export interface CarePlanInput {
  readonly displayName: string | null;
  readonly meteredSeconds: number;
  readonly startedAt: Date;
  readonly transcript: readonly { readonly role: string; readonly text: string }[];
  readonly summary: string | null;
}

export interface CarePlan {
  readonly source: 'gemini' | 'template';
  readonly title: string;
  readonly body: string;
}

export interface CarePlanWriter {
  readonly source: CarePlan['source'];
  write(input: CarePlanInput): Promise<CarePlan>;
}

function minutes(seconds: number): string {
  const whole = Math.floor(seconds / 60);
  const rest = seconds % 60;
  return whole === 0 ? `${rest} seconds` : rest === 0 ? `${whole} minutes` : `${whole} min ${rest} s`;
}

/**
 * Without a Gemini key: a plan built from the session's own data, and labelled as such, so the
 * whole flow (plan stored, shown, emailed) works on one machine.
 */
export function createTemplateWriter(): CarePlanWriter {
  return {
    source: 'template',
    async write(input) {
      const said = input.transcript.filter((line) => line.role === 'user').map((line) => line.text.trim());
      const topics = said.length === 0 ? 'what you shared' : `"${said.slice(0, 3).join('", "')}"`;
      const body = [
        '(Template plan: no AI model is configured on this server, so this plan is built from your call data.)',
        '',
        `You talked with your coach for ${minutes(input.meteredSeconds)} on ${input.startedAt.toUTCString()}.`,
        input.summary === null ? '' : `Summary: ${input.summary}`,
        '',
        `1. Take five minutes today to write down how you feel about ${topics}.`,
        '2. Breathe slowly for two minutes, twice a day: in for four counts, out for six.',
        '3. Pick one small step you can take before your next call, and note when you did it.',
        '4. Book your next session while the conversation is fresh.',
      ]
        .filter((line, index, all) => !(line === '' && all[index - 1] === ''))
        .join('\n');
      return { source: 'template', title: 'Your care plan (template)', body };
    },
  };
}

/** Gemini through Google's official SDK (`@google/genai`), behind the resilience wrapper. */
export function createGeminiWriter(options: {
  apiKey: string;
  model: string;
  baseUrl: string | undefined;
  service: ExternalService;
}): CarePlanWriter {
  const ai = new GoogleGenAI({
    apiKey: options.apiKey,
    ...(options.baseUrl === undefined ? {} : { httpOptions: { baseUrl: options.baseUrl } }),
  });
  return {
    source: 'gemini',
    async write(input) {
      const conversation =
        input.transcript.length > 0
          ? input.transcript.map((line) => `${line.role}: ${line.text}`).join('\n')
          : (input.summary ?? '(no transcript)');
      const prompt = [
        'You are a supportive wellbeing coach. Write a short, practical personal care plan for the person',
        `below after a ${minutes(input.meteredSeconds)} coaching call. Use plain language, 4 to 6 numbered`,
        'steps, no medical diagnosis, and a kind closing line. Reply with the plan text only.',
        '',
        `Person: ${input.displayName ?? 'the caller'}`,
        'Conversation:',
        conversation.slice(0, 20_000),
      ].join('\n');
      const text = await options.service.call(
        async (signal) => {
          try {
            const response = await ai.models.generateContent({
              model: options.model,
              contents: prompt,
              config: { abortSignal: signal, temperature: 0.4, maxOutputTokens: 1024 },
            });
            return response.text ?? '';
          } catch (error) {
            const status = (error as { status?: number }).status;
            if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
              throw new PermanentExternalError('gemini', `Gemini refused the request (${status})`, {
                status,
                cause: error,
              });
            }
            throw error;
          }
        },
        // Generating twice costs tokens but changes nothing: the plan is stored once.
        { idempotent: true },
      );
      if (text.trim() === '') throw new Error('Gemini returned an empty plan');
      return { source: 'gemini', title: 'Your care plan', body: text.trim() };
    },
  };
}
