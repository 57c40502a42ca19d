import { useCallback, useState } from "react";

/** Keyset paging: the cursors of the pages before this one, so "Previous" needs no deep skip. */
export function useCursors() {
  const [cursors, setCursors] = useState<string[]>([]);
  return {
    after: cursors[cursors.length - 1],
    hasPrevious: cursors.length > 0,
    back: () => setCursors((c) => c.slice(0, -1)),
    forward: (next: string) => setCursors((c) => [...c, next]),
    // Stable, so an effect may depend on it.
    reset: useCallback(() => setCursors([]), []),
  };
}

export function Pager({ cursors, next, label }: { cursors: ReturnType<typeof useCursors>; next: string | null | undefined; label: string }) {
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" disabled={!cursors.hasPrevious} onClick={cursors.back}>Previous</button>
      <button type="button" disabled={!next} onClick={() => next && cursors.forward(next)}>Next</button>
    </nav>
  );
}
