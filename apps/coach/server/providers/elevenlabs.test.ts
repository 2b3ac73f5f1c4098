import { afterEach, describe, expect, it } from 'vitest';
import type { ExternalService } from '@ballast/platform';
import { startFakeElevenLabs, type FakeElevenLabs } from '../testing/elevenlabs-server.ts';
import { createElevenLabs } from './elevenlabs.ts';

/** The provider alone, over HTTP to a local ElevenLabs; calls go straight through (no retries). */
const direct: ExternalService = {
  name: 'elevenlabs',
  state: 'closed',
  call: (fn) => fn(new AbortController().signal),
};

let eleven: FakeElevenLabs | undefined;
afterEach(async () => {
  await eleven?.close();
  eleven = undefined;
});

async function provider(conversationIdIn: 'answer' | 'url' | 'nowhere') {
  eleven = await startFakeElevenLabs({ conversationIdIn });
  return createElevenLabs({ apiKey: eleven.apiKey, agentId: eleven.agentId, baseUrl: eleven.url, service: direct });
}

describe('ElevenLabs signed URLs', () => {
  it.each(['answer', 'url'] as const)(
    'knows the conversation a signed URL opens when it comes in the %s',
    async (where) => {
      const api = await provider(where);
      const issued = await api.signedUrl();
      expect(issued.conversationId).toBe(eleven!.issued[0]);
      expect(issued.signedUrl).toMatch(/^wss:\/\/.*conversation_signature=/);
    },
  );

  it('refuses a signed URL whose conversation it cannot know, since that call could not be billed', async () => {
    const api = await provider('nowhere');
    await expect(api.signedUrl()).rejects.toThrow(/without the conversation id/);
  });

  it('reads a conversation ElevenLabs recorded, and none before its URL is used', async () => {
    const api = await provider('answer');
    const { conversationId } = await api.signedUrl();
    expect(await api.conversation(conversationId)).toBeUndefined();
    eleven!.talk(conversationId);
    expect(await api.conversation(conversationId)).toMatchObject({ status: 'in-progress' });
    eleven!.hangUp(conversationId, 61, 'Thank you.');
    expect(await api.conversation(conversationId)).toMatchObject({
      conversationId,
      status: 'done',
      durationSeconds: 61,
      summary: 'The caller talked about their sleep.',
      transcript: [expect.objectContaining({ role: 'agent' }), { role: 'user', text: 'Thank you.' }],
    });
  });
});
