import { Writable } from 'node:stream';

/** Log lines a test can read back. */
export interface CapturedLogs {
  readonly stream: Writable;
  /** Every line so far, parsed. */
  lines(): Record<string, unknown>[];
  /** Every line so far, raw text. */
  text(): string;
}

/** A pino destination that keeps every line in memory. */
export function captureLogs(): CapturedLogs {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const text = (): string => chunks.join('');
  return {
    stream,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter((line) => line.trim().length > 0)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
