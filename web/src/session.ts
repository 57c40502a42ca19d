// Who is signed in: `GET /auth/me`, shared by every page through the query cache.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { type Me, api, errorFromBody, onSignedOut } from "./api/client";

export const ME = ["me"] as const;

// The cookies are httpOnly, so the page cannot see whether it has a session. This note (no
// secret: just "this browser signed in") spares a visitor who never did a request doomed to 401.
const HINT = "writers.signed-in";
export const signedInBefore = () => Boolean(localStorage.getItem(HINT));
export const noteSignedIn = (yes: boolean) => (yes ? localStorage.setItem(HINT, "1") : localStorage.removeItem(HINT));

async function fetchMe(): Promise<Me | null> {
  if (!localStorage.getItem(HINT)) return null;
  const { data, error, response } = await api.GET("/auth/me");
  if (response.status === 401) {
    noteSignedIn(false);
    return null;
  }
  if (!response.ok) throw errorFromBody(response.status, error);
  return data!;
}

export function useMe() {
  // Back on the tab, always asked again: a session ended elsewhere (signed out from another
  // device, the account deactivated) shows at once.
  return useQuery({ queryKey: ME, queryFn: fetchMe, staleTime: 60_000, refetchOnWindowFocus: "always" });
}

/** Forgets everything of a session that ended elsewhere (expired, revoked, deactivated), once. */
export function useSignedOutWatch(): [string | null, () => void] {
  const client = useQueryClient();
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(
    () =>
      onSignedOut(() => {
        const wasSignedIn = Boolean(client.getQueryData(ME));
        noteSignedIn(false);
        client.removeQueries({ predicate: (q) => q.queryKey[0] !== ME[0] });
        client.setQueryData(ME, null);
        if (wasSignedIn) setNotice("Your session has ended. Sign in again to go on.");
      }),
    [client],
  );
  return [notice, () => setNotice(null)];
}

/** After signing in or out: the cache starts again from the new identity. */
export async function resetSession(client: ReturnType<typeof useQueryClient>, signedIn: boolean) {
  noteSignedIn(signedIn);
  client.removeQueries({ predicate: (q) => q.queryKey[0] !== ME[0] });
  await client.invalidateQueries({ queryKey: ME });
  await client.refetchQueries({ queryKey: ME });
}
