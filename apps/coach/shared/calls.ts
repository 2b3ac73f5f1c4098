/** What the coach's server and browser agree on. */
import { z } from '@ballast/contracts';

export const HEARTBEAT_SECONDS = 5;

/** How the browser talks to the coach. */
export const voiceSetup = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('elevenlabs'), signedUrl: z.string() }),
  z.object({
    mode: z.literal('local'),
    /** Local voice mode: the browser speaks these lines with speech synthesis, one per turn. */
    lines: z.array(z.string()).readonly(),
  }),
]);
export type VoiceSetup = z.output<typeof voiceSetup>;

export const endReasonText: Readonly<Record<string, string>> = {
  hung_up: 'You ended the call.',
  heartbeat_lost: 'The connection was lost for more than 10 seconds, so the call was ended.',
  balance_exhausted: 'Your talk-time ran out.',
  operator: 'An operator ended the call.',
  shutdown: 'The server ended the call.',
};

export const LOCAL_COACH_LINES = [
  'Hello, I am your coach. This is local voice mode, so I am speaking from your browser. How are you feeling today?',
  'Thank you for sharing that. What has been on your mind the most this week?',
  'That sounds important. What is one small thing that would make tomorrow a little easier?',
  'Good. Let us make that your first step. How will you know you have done it?',
  'I will put this into your care plan. Is there anything else you would like to talk about?',
] as const;

/** Shown on the coach page, under every care plan and in care-plan emails. */
export const SAFETY_LINES = {
  notMedicalAdvice:
    'The coach is an AI, not a doctor or therapist: what it says and your care plans are not medical advice.',
  crisis:
    'If you are in crisis or thinking of harming yourself, call your local emergency number now (112 in India and Europe, 911 in the US) or find a free helpline at findahelpline.com.',
} as const;
