import { useCallback, useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import {
  Button,
  FieldError,
  Form as AriaForm,
  Input,
  Label,
  Text,
  TextField,
  type ValidationResult,
} from 'react-aria-components';
import { ApiError } from './api.ts';

/** Makes a message a sentence: capital first letter, closing full stop. */
export function asSentence(text: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return trimmed;
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?…]$/.test(capital) ? capital : `${capital}.`;
}

/**
 * The message for a field the browser found invalid, as one sentence naming what to do. The
 * browser's own wording differs by browser and locale and often names no field.
 */
export function fieldProblem(
  label: string,
  validity: Pick<ValidityState, 'valueMissing' | 'typeMismatch' | 'tooShort' | 'tooLong'>,
  options: { readonly type?: string | undefined; readonly minLength?: number | undefined },
  fallback: readonly string[],
): string {
  if (validity.valueMissing) return `Enter your ${label.toLowerCase()}.`;
  if (validity.typeMismatch && options.type === 'email') return 'Enter an email address like name@example.com.';
  if (validity.tooShort && options.minLength !== undefined) {
    return `${label} must be at least ${options.minLength} characters long.`;
  }
  const text = fallback.join(' ').trim();
  // The server's field messages are often predicates ("is one of the most common passwords"):
  // a sentence names its subject.
  return asSentence(/^[a-z]/.test(text) ? `${label} ${text}` : text);
}

export interface FieldProps {
  readonly label: string;
  readonly name: string;
  readonly type?: 'text' | 'email' | 'password' | 'search' | 'tel' | 'url';
  readonly hint?: ReactNode;
  readonly required?: boolean;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly autoComplete?: string;
  readonly defaultValue?: string;
  readonly placeholder?: string;
  readonly autoFocus?: boolean;
}

function FieldMessages({ label, hint, type, minLength }: Pick<FieldProps, 'label' | 'hint' | 'type' | 'minLength'>) {
  return (
    <>
      {hint === undefined ? null : (
        <Text slot="description" className="field-hint">
          {hint}
        </Text>
      )}
      <FieldError className="field-error">
        {({ validationDetails, validationErrors }: ValidationResult) =>
          fieldProblem(label, validationDetails, { type, minLength }, validationErrors)
        }
      </FieldError>
    </>
  );
}

/**
 * A labelled text input (React Aria's TextField): its hint and its one error are wired for screen
 * readers, the browser's checks (required, email, length) run before anything is sent, and a
 * server's problem with this field (the form's `errors`) shows in the same place.
 */
export function Field({ label, name, type = 'text', hint, required, minLength, maxLength, ...input }: FieldProps) {
  return (
    <TextField
      className="field"
      name={name}
      type={type}
      isRequired={required ?? false}
      {...(minLength === undefined ? {} : { minLength })}
      {...(maxLength === undefined ? {} : { maxLength })}
      {...input}
    >
      <Label>{label}</Label>
      <Input />
      <FieldMessages label={label} hint={hint} type={type} minLength={minLength} />
    </TextField>
  );
}

/** A password input with a button that shows or hides what was typed. */
export function PasswordField({ label, name, hint, required, minLength, ...input }: Omit<FieldProps, 'type'>) {
  const [visible, setVisible] = useState(false);
  return (
    <TextField
      className="field"
      name={name}
      type={visible ? 'text' : 'password'}
      isRequired={required ?? false}
      {...(minLength === undefined ? {} : { minLength })}
      {...input}
    >
      <Label>{label}</Label>
      <div className="password-input">
        <Input spellCheck={false} autoCapitalize="off" />
        <Button
          className="button"
          aria-pressed={visible}
          aria-label={visible ? `Hide ${label.toLowerCase()}` : `Show ${label.toLowerCase()}`}
          onPress={() => setVisible((shown) => !shown)}
        >
          {visible ? 'Hide' : 'Show'}
        </Button>
      </div>
      <FieldMessages label={label} hint={hint} type="password" minLength={minLength} />
    </TextField>
  );
}

/** A problem the user must see, announced to screen readers; focusable so a failed submit can move there. */
export function ErrorMessage({ children }: { readonly children: ReactNode }) {
  if (children === null || children === undefined || children === '') return null;
  return (
    <p className="message" data-kind="error" role="alert" tabIndex={-1}>
      {typeof children === 'string' ? asSentence(children) : children}
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
  /** The problem to show above the button, when it is not about one field. */
  readonly error: string | undefined;
  /** The server's problems by field name, shown at each field. */
  readonly fields: Readonly<Record<string, string>>;
  /**
   * A submit handler that runs `action` once at a time with the form's values; an `ApiError`
   * becomes `error` (or `fields`), and focus moves to the first problem.
   */
  readonly run: (
    action: (values: FormData, form: HTMLFormElement) => Promise<void>,
  ) => (event: FormEvent<HTMLFormElement>) => void;
  readonly reset: () => void;
  /** Forgets the server's problem with a field once the user edits it, so the form can be sent again. */
  readonly clearField: (name: string) => void;
}

/** The state of a form submission: busy while the request runs, the server's problems after. */
export function useSubmission(): Submission {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const [fields, setFields] = useState<Readonly<Record<string, string>>>({});
  const [failures, setFailures] = useState(0);
  const formRef = useRef<HTMLFormElement | null>(null);

  // After a failed submit, focus goes to the first field in error, else to the message.
  useEffect(() => {
    if (failures === 0) return;
    const form = formRef.current;
    if (form === null) return;
    const target =
      form.querySelector<HTMLElement>('[aria-invalid="true"]') ??
      form.querySelector<HTMLElement>('.message[data-kind="error"]');
    target?.focus();
  }, [failures]);

  const run = useCallback(
    (action: (values: FormData, form: HTMLFormElement) => Promise<void>) => (event: FormEvent<HTMLFormElement>) => {
      event.preventDefault();
      if (busy) return;
      const form = event.currentTarget;
      formRef.current = form;
      setBusy(true);
      setError(undefined);
      setFields({});
      action(new FormData(form), form)
        .catch((caught: unknown) => {
          if (caught instanceof ApiError && Object.keys(caught.fields).length > 0) {
            // Each problem once: at its field, as a sentence, not again above the button.
            setFields(caught.fields);
          } else {
            setError(caught instanceof Error ? caught.message : String(caught));
          }
          setFailures((count) => count + 1);
        })
        .finally(() => setBusy(false));
    },
    [busy],
  );
  return {
    busy,
    error,
    fields,
    run,
    reset: () => {
      setError(undefined);
      setFields({});
    },
    clearField: (name: string) => {
      setFields((current) => {
        if (!(name in current)) return current;
        const { [name]: _cleared, ...rest } = current;
        return rest;
      });
    },
  };
}

/**
 * Checks the form in the browser before it is sent: every invalid field shows its error (React
 * Aria listens to the 'invalid' events that `checkValidity` fires) and the first one takes the
 * focus, so a keyboard or screen-reader user lands on the problem. Returns whether it may go.
 */
export function checkBeforeSending(form: HTMLFormElement): boolean {
  if (form.checkValidity()) return true;
  const first = Array.from(form.elements).find(
    (element): element is HTMLInputElement =>
      element instanceof HTMLInputElement && element.willValidate && !element.validity.valid,
  );
  first?.focus();
  return false;
}

/**
 * A form checked by the browser before anything is sent (React Aria's Form: an invalid field
 * shows its error and takes focus), with the server's field problems from `submission`.
 */
export function Form({
  submission,
  onSubmit,
  children,
  id,
  className,
}: {
  readonly submission: Submission;
  readonly onSubmit: (event: FormEvent<HTMLFormElement>) => void;
  readonly children: ReactNode;
  readonly id?: string;
  readonly className?: string;
}) {
  return (
    <AriaForm
      id={id}
      className={className}
      validationErrors={submission.fields}
      onSubmit={onSubmit}
      aria-busy={submission.busy}
    >
      <div
        className="form-body"
        onInput={(event) => {
          const target = event.target as HTMLInputElement;
          if (target.name !== '') submission.clearField(target.name);
        }}
      >
        {children}
      </div>
    </AriaForm>
  );
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
    <button
      type="submit"
      className="button"
      data-variant="primary"
      disabled={busy}
      aria-busy={busy}
      // A press must not take the focus from the field being typed in: that blur shows or clears
      // the field's error, the layout moves, and the release lands beside the button, so the click
      // is lost. The field's check runs on submit instead (checkValidity below), and keyboard
      // focus is unaffected.
      onMouseDown={(event) => event.preventDefault()}
      onClick={(event) => {
        // Enter in a field clicks this button too: the check runs either way.
        const form = event.currentTarget.form;
        if (form !== null && !checkBeforeSending(form)) event.preventDefault();
      }}
    >
      {busy ? (busyLabel ?? 'Working…') : children}
    </button>
  );
}

/** A text value of a submitted form ('' when absent). */
export function formText(form: FormData, name: string): string {
  const value = form.get(name);
  return typeof value === 'string' ? value : '';
}
