// How often a page asks again about a manuscript that is still being processed.

/** 1 s, then half as long again each time, at most 15 s: quick for a small file, gentle for a stuck one. */
export function pollDelay(attempt: number): number {
  return Math.min(1000 * 1.5 ** Math.max(0, attempt), 15_000);
}

interface Polled {
  status: string;
  file_size?: number | null;
  completed_at?: string | null;
  shown_draft?: number | null;
}

interface PolledDraft {
  state: string;
}

/** Whether anything about this task can still change without the writer doing something. */
export function isSettled(task: Polled, drafts: PolledDraft[] = []): boolean {
  if (drafts.some((d) => d.state === "processing")) return false;
  return task.status !== "in_progress";
}
