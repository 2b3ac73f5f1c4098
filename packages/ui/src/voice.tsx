// Controls for voice calls (the coach today, the interviewer next): a level meter that reads a
// fast-changing value without re-rendering its page, and a toggle button (React Aria).
import { useSyncExternalStore, type ReactNode } from 'react';
import { ToggleButton as AriaToggleButton } from 'react-aria-components';

/** A value from 0 to 100 that changes many times a second (a microphone's level). */
export interface LevelSource {
  readonly subscribe: (listener: () => void) => () => void;
  readonly get: () => number;
}

/** A level source to `set` from an animation frame loop; listeners hear only real changes. */
export function createLevelSource(): LevelSource & { readonly set: (value: number) => void } {
  let value = 0;
  const listeners = new Set<() => void>();
  return {
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    get: () => value,
    set: (next) => {
      const clamped = Math.max(0, Math.min(100, Math.round(next)));
      if (clamped === value) return;
      value = clamped;
      for (const listener of listeners) listener();
    },
  };
}

/** A horizontal bar (role="meter", 0–100) that follows `source`; only it re-renders as the level moves. */
export function LevelMeter({ source, label }: { readonly source: LevelSource; readonly label: string }) {
  const value = useSyncExternalStore(source.subscribe, source.get);
  return (
    <div
      className="level-meter"
      role="meter"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={value}
      data-testid="level-meter"
    >
      {/* Set through the CSS object model (not a style attribute), which the strict CSP allows. */}
      <span className="level-meter-fill" style={{ inlineSize: `${value}%` }} />
    </div>
  );
}

/** A button that stays pressed (aria-pressed) until pressed again: mute, hold. */
export function ToggleButton({
  isSelected,
  onChange,
  isDisabled,
  children,
}: {
  readonly isSelected: boolean;
  readonly onChange: (selected: boolean) => void;
  readonly isDisabled?: boolean;
  readonly children: ReactNode;
}) {
  return (
    <AriaToggleButton
      className="button toggle-button"
      isSelected={isSelected}
      onChange={onChange}
      isDisabled={isDisabled}
    >
      {children}
    </AriaToggleButton>
  );
}
