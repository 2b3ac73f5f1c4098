import type { AiDocument, AiEvent, AiProvider, AiRequest } from './provider.ts';

/** How every local-mode answer begins, so no one mistakes it for a model's. */
export const LOCAL_MODE_LABEL = '(Local mode: no AI model is configured on this server.)';

const stopWords = new Set(
  'a an and are as at be but by can do does for from had has have how i in is it its me my of on or our so that the their them then there these they this to was we were what when where which who why will with you your'.split(
    ' ',
  ),
);

const words = new Intl.Segmenter('en', { granularity: 'word' });
const sentences = new Intl.Segmenter('en', { granularity: 'sentence' });

function terms(text: string): Set<string> {
  const found = new Set<string>();
  for (const part of words.segment(text.toLowerCase())) {
    if (part.isWordLike === true && part.segment.length > 1 && !stopWords.has(part.segment)) found.add(part.segment);
  }
  return found;
}

/** A rough token count (words and punctuation), so local answers report usage like the others. */
export function countTokens(text: string): number {
  return text.match(/\p{L}+|\p{N}+|[^\s\p{L}\p{N}]/gu)?.length ?? 0;
}

/**
 * An extractive answer: the sentences of the documents that share the most words with the
 * question, quoted verbatim with their document's number, best first (ties in reading order),
 * then the sources. Deterministic: the same question and documents give the same answer.
 */
export function extractiveAnswer(question: string, documents: readonly AiDocument[], quotes = 3): string {
  const wanted = terms(question);
  const scored: { text: string; document: number; order: number; score: number }[] = [];
  documents.forEach((document, index) => {
    for (const part of sentences.segment(document.text)) {
      const text = part.segment.replace(/\s+/g, ' ').trim();
      if (text === '') continue;
      let score = 0;
      for (const term of terms(text)) if (wanted.has(term)) score++;
      if (score > 0) scored.push({ text, document: index + 1, order: scored.length, score });
    }
  });
  if (documents.length === 0) {
    return `${LOCAL_MODE_LABEL} Without a model I can only quote your documents, and none were given with this question.`;
  }
  const best = scored.sort((a, b) => b.score - a.score || a.order - b.order).slice(0, quotes);
  if (best.length === 0) {
    return `${LOCAL_MODE_LABEL} None of your documents mentions the words of your question, so there is nothing to quote.`;
  }
  const cited = [...new Set(best.map((quote) => quote.document))].sort((a, b) => a - b);
  return [
    `${LOCAL_MODE_LABEL} The passages of your documents that best match your question:`,
    '',
    ...best.map((quote) => `> "${quote.text}" [${quote.document}]`),
    '',
    `Sources: ${cited.map((number) => `[${number}] ${documents[number - 1]!.title}`).join('; ')}`,
  ].join('\n');
}

/** Splits an answer into word-sized pieces (spaces kept), so local answers stream like real ones. */
function pieces(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

/**
 * The provider without a provider: the app's own `localAnswer` when it gave one (the coach's
 * template plan), otherwise an extractive answer quoting the request's documents with citations.
 * Streamed piece by piece, cancellable, labelled, and free.
 */
export function createLocalProvider(): AiProvider {
  return {
    name: 'local',
    model: 'local-extractive',
    async *stream(request: AiRequest, signal: AbortSignal): AsyncGenerator<AiEvent> {
      const question = request.messages.findLast((message) => message.role === 'user')?.content ?? '';
      const answer = request.localAnswer ?? extractiveAnswer(question, request.documents ?? []);
      for (const piece of pieces(answer)) {
        signal.throwIfAborted();
        // Yield the event loop between pieces so a cancellation can land mid-answer.
        await new Promise((resolve) => setImmediate(resolve));
        yield { type: 'text', text: piece };
      }
      const input = [request.system ?? '', ...request.messages.map((message) => message.content)]
        .concat((request.documents ?? []).map((document) => document.text))
        .join('\n');
      yield {
        type: 'usage',
        inputTokens: countTokens(input),
        outputTokens: countTokens(answer),
        model: 'local-extractive',
      };
    },
  };
}
