import { defineApp } from '@ballast/platform';

/** assistant: chat with documents and citations, and audio packs to buy and download. */
export default defineApp({
  name: 'assistant',
  title: 'AI assistant',
  summary: 'Chat with an assistant that answers from your documents with citations; buy and download audio packs.',
  status: 'coming-soon',
  roles: [{ name: 'user', title: 'Assistant user', selfService: true }],
  migrations: new URL('./migrations/', import.meta.url).pathname,
});
