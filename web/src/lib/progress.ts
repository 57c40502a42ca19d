// The figures of a task's progress, in words.

export interface ProgressFigures {
  words: number;
  target?: number | null;
  percent?: number | null;
  days_left?: number | null;
  words_per_day_needed?: number | null;
}

const number = new Intl.NumberFormat("en");
export const formatNumber = (n: number) => number.format(n);

/** The bar's fill, 0–100 (a target passed fills it). */
export function fill(progress: ProgressFigures): number {
  if (!progress.target) return 0;
  return Math.max(0, Math.min(100, (progress.words / progress.target) * 100));
}

/** "12,400 of 80,000 words (15.5%)", or just the words without a target. */
export function summary(progress: ProgressFigures): string {
  const words = `${formatNumber(progress.words)} ${progress.words === 1 ? "word" : "words"}`;
  if (!progress.target) return words;
  const percent = progress.percent ?? (progress.words / progress.target) * 100;
  return `${formatNumber(progress.words)} of ${formatNumber(progress.target)} words (${percent.toFixed(1)}%)`;
}

/** The pace the due date asks for, when there is one to state. */
export function pace(progress: ProgressFigures): string | null {
  if (!progress.target) return null;
  if (progress.words >= progress.target) return "Target reached.";
  if (progress.days_left == null) return null;
  if (progress.days_left < 0) return "The due date has passed.";
  if (progress.words_per_day_needed == null) return null;
  const days = progress.days_left === 0 ? "today" : `a day for ${progress.days_left + 1} days`;
  return `${formatNumber(progress.words_per_day_needed)} words ${days} to reach the target by the due date.`;
}

/** "4 min", "1 h 20 min": a reading time. */
export function readingTime(minutes: number | null | undefined): string | null {
  if (minutes == null) return null;
  if (minutes < 1) return "under a minute";
  const whole = Math.round(minutes);
  if (whole < 60) return `${whole} min`;
  return `${Math.floor(whole / 60)} h ${whole % 60} min`;
}
