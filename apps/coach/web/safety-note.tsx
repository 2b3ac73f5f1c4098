// Said wherever the coach speaks to someone: it is not medical advice, and where to turn in a crisis.
import { SAFETY_LINES } from '../shared/calls.ts';

export function SafetyNote() {
  return (
    <p className="safety-note muted" data-testid="safety-note">
      {SAFETY_LINES.notMedicalAdvice} <strong>{SAFETY_LINES.crisis}</strong>
    </p>
  );
}
