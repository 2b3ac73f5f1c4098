/**
 * Dates, numbers, money and durations in the reader's own locale and time zone, through `Intl`.
 * `locale` and `timeZone` default to the browser's; tests pass them.
 */

export interface FormatOptions {
  readonly locale?: string | undefined;
  readonly timeZone?: string | undefined;
}

function dateFormat(options: FormatOptions, style: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat(options.locale, {
    ...style,
    ...(options.timeZone === undefined ? {} : { timeZone: options.timeZone }),
  });
}

/** An instant as a day: "3 December 2026" (en-GB), "December 3, 2026" (en-US). */
export function formatDate(value: string | Date, options: FormatOptions = {}): string {
  return dateFormat(options, { dateStyle: 'long' }).format(new Date(value));
}

/** An instant as day and time, with the zone's short name: "3 Dec 2026, 14:05 UTC". */
export function formatDateTime(value: string | Date, options: FormatOptions = {}): string {
  return (
    dateFormat(options, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(value)) +
    zoneSuffix(value, options)
  );
}

function zoneSuffix(value: string | Date, options: FormatOptions): string {
  const zone = dateFormat(options, { timeZoneName: 'short' })
    .formatToParts(new Date(value))
    .find((part) => part.type === 'timeZoneName')?.value;
  return zone === undefined ? '' : ` ${zone}`;
}

/** A plain number with the locale's grouping: 12345 → "12,345". */
export function formatNumber(value: number, options: FormatOptions = {}): string {
  return new Intl.NumberFormat(options.locale).format(value);
}

/** Minor units in a currency: 49900 INR → "₹499.00". */
export function formatMoney(amountMinor: number, currency: string, options: FormatOptions = {}): string {
  return new Intl.NumberFormat(options.locale, { style: 'currency', currency }).format(amountMinor / 100);
}

/**
 * A duration with its units, largest first and zero parts left out: 1779 → "29 min 39 sec",
 * 3725 → "1 hr 2 min 5 sec", 0 → "0 sec" (en). Never a bare "29:39".
 */
export function formatDuration(totalSeconds: number, options: FormatOptions = {}): string {
  const seconds = Math.max(0, Math.floor(totalSeconds));
  const parts: [number, 'hour' | 'minute' | 'second'][] = [
    [Math.floor(seconds / 3600), 'hour'],
    [Math.floor((seconds % 3600) / 60), 'minute'],
    [seconds % 60, 'second'],
  ];
  const shown = parts.filter(([value]) => value > 0);
  return (shown.length === 0 ? [parts[2]!] : shown)
    .map(([value, unit]) =>
      new Intl.NumberFormat(options.locale, { style: 'unit', unit, unitDisplay: 'short' }).format(value),
    )
    .join(' ');
}

/** An amount in its unit: talk-time as "29 min 39 sec", anything else as a number and its unit. */
export function formatUnits(amount: number, unit: string, options: FormatOptions = {}): string {
  return unit === 'seconds' ? formatDuration(amount, options) : `${formatNumber(amount, options)} ${unit}`;
}
