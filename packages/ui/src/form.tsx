import { useId, useState, type FormEvent, type InputHTMLAttributes, type ReactNode } from 'react';
import { ApiError } from './api.ts';

interface FieldProps extends InputHTMLAttributes<HTMLInputElement> {
  readonly label: string;
  readonly name: string;
  readonly error?: string | undefined;
  readonly hint?: ReactNode;
}

/** A labelled input with its hint and its error, wired for screen readers. */
export function Field({ label, name, error, hint, ...input }: FieldProps) {
  const id = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [hint === undefined ? '' : hintId, error === undefined ? '' : errorId].filter(Boolean).join(' ');
  return (
    <div className="field" data-invalid={error === undefined ? undefined : true}>
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={name}
        aria-invalid={error === undefined ? undefined : true}
        aria-describedby={describedBy === '' ? undefined : describedBy}
        {...input}
      />
      {hint === undefined ? null : (
        <p className="field-hint" id={hintId}>
          {hint}
        </p>
      )}
      {error === undefined ? null : (
        <p className="field-error" id={errorId}>
          {error}
        </p>
      )}
    </div>
  );
}

/** A problem the user must see, announced to screen readers. */
export function ErrorMessage({ children }: { readonly children: ReactNode }) {
  if (children === null || children === undefined || children === '') return null;
  return (
    <p className="message" data-kind="error" role="alert">
      {children}
    </p>
  );
}

/** Good news or a neutral status line. */
export function Notice({ children }: { readonly children: ReactNode }) {
  return (
    <p className="message" data-kind="info" role="status">
      {children}
    </p>
  );
}

export interface Submission {
  readonly busy: boolean;
  readonly error: string | undefined;
  readonly fields: Readonly<Record<string, string>>;
  /**
   * A submit handler that runs `action` once at a time with the form's values; an `ApiError`
   * becomes `error` and `fields`.
   */
  readonly run: (
    action: (values: FormData, form: HTMLFormElement) => Promise<void>,
  ) => (event: FormEvent<HTMLFormElement>) => void;
  readonly reset: () => void;
}

/** The state of a form submission: busy while the request runs, the server's problems after. */
export function useSubmission(): Submission {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const [fields, setFields] = useState<Readonly<Record<string, string>>>({});
  const run =
    (action: (values: FormData, form: HTMLFormElement) => Promise<void>) => (event: FormEvent<HTMLFormElement>) => {
      event.preventDefault();
      if (busy) return;
      const form = event.currentTarget;
      setBusy(true);
      setError(undefined);
      setFields({});
      action(new FormData(form), form)
        .catch((caught: unknown) => {
          if (caught instanceof ApiError) {
            setFields(caught.fields);
            setError(caught.message);
          } else {
            setError(caught instanceof Error ? caught.message : String(caught));
          }
        })
        .finally(() => setBusy(false));
    };
  return {
    busy,
    error,
    fields,
    run,
    reset: () => {
      setError(undefined);
      setFields({});
    },
  };
}

/** A form's main button: disabled and relabelled while the request runs. */
export function SubmitButton({
  busy,
  children,
  busyLabel,
}: {
  busy: boolean;
  children: ReactNode;
  busyLabel?: string;
}) {
  return (
    <button type="submit" className="button" data-variant="primary" disabled={busy} aria-busy={busy}>
      {busy ? (busyLabel ?? 'Working…') : children}
    </button>
  );
}

/** A text value of a submitted form ('' when absent). */
export function formText(form: FormData, name: string): string {
  const value = form.get(name);
  return typeof value === 'string' ? value : '';
}
