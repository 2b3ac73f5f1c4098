// Loads one API answer and loads it again whenever `version` changes.
import { api } from '@ballast/ui';
import type { Parsed, z } from '@ballast/contracts';
import { useEffect, useState } from 'react';

export function useLoad<Schema extends z.ZodType>(
  path: string,
  answer: Schema,
  version: number,
): { data: Parsed<Schema> | undefined; error: string | undefined } {
  const [state, setState] = useState<{ data: Parsed<Schema> | undefined; error: string | undefined }>({
    data: undefined,
    error: undefined,
  });
  useEffect(() => {
    let current = true;
    api('GET', path, undefined, answer)
      .then((data) => current && setState({ data, error: undefined }))
      .catch((error: unknown) => current && setState({ data: undefined, error: (error as Error).message }));
    return () => {
      current = false;
    };
  }, [path, answer, version]);
  return state;
}
