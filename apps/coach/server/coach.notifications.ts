import { defineNotification, z } from '@ballast/platform';
import { SAFETY_LINES } from '../shared/calls.ts';

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

export const carePlanReadyNotice = defineNotification({
  type: 'coach.care-plan-ready',
  title: 'Care plan ready',
  data: z.object({
    title: z.string(),
    body: z.string(),
    source: z.enum(['anthropic', 'gemini', 'openai', 'template']),
    link: z.url(),
  }),
  channels: ['in_app', 'email'],
  render: (data) => ({
    title: data.title,
    text: `${data.body}\n\nSee all your plans: ${data.link}\n\n${SAFETY_LINES.notMedicalAdvice}\n${SAFETY_LINES.crisis}`,
    html: `<h2>${escape(data.title)}</h2><p style="white-space:pre-wrap">${escape(data.body)}</p><p><a href="${escape(data.link)}">See all your plans</a></p><p><small>${escape(SAFETY_LINES.notMedicalAdvice)}<br>${escape(SAFETY_LINES.crisis)}</small></p>`,
  }),
});
