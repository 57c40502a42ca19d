// Due dates as a writer reads them: relative to today, in whole calendar days.

const DAY_MS = 86_400_000;

/** Midnight of `date` in the local time zone, as a day number. */
function dayNumber(date: Date): number {
  return Math.floor(Date.UTC(date.getFullYear(), date.getMonth(), date.getDate()) / DAY_MS);
}

export interface Due {
  text: string;
  overdue: boolean;
}

/**
 * "due today", "due tomorrow", "in 3 days", "yesterday" … "2 days late", counted in calendar days
 * between `now` and `due` in the browser's time zone. A task due earlier today is late.
 */
export function relativeDue(due: Date, now: Date): Due {
  const days = dayNumber(due) - dayNumber(now);
  if (days === 0) {
    const late = due.getTime() < now.getTime();
    return { text: late ? "due today, late" : "due today", overdue: late };
  }
  if (days === 1) return { text: "due tomorrow", overdue: false };
  if (days > 1) return { text: days < 60 ? `in ${days} days` : `in ${Math.round(days / 30)} months`, overdue: false };
  const late = -days;
  return { text: late === 1 ? "1 day late" : `${late} days late`, overdue: true };
}

/** A value for `<input type="date">` (the local calendar day), or "" without a date. */
export function toDateInput(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** The end of the chosen local day, as RFC 3339 (what a writer means by "due on the 24th"). */
export function fromDateInput(value: string): string | null {
  if (!value) return null;
  const [y, m, d] = value.split("-").map(Number);
  if (!y || !m || !d) return null;
  return new Date(y, m - 1, d, 23, 59, 0).toISOString();
}

const formatter = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
const stamp = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export const formatDay = (iso: string) => formatter.format(new Date(iso));
export const formatStamp = (iso: string) => stamp.format(new Date(iso));
