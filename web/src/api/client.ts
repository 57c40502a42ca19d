// The API client: typed by the committed openapi.json (schema.d.ts is generated from it), same
// origin, cookies only. A 401 refreshes the session once and retries; refreshes are serialised
// across tabs (Web Locks), so two tabs never spend the same refresh token against each other.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Task = Schemas["TaskView"];
export type Draft = Schemas["DraftView"];
export type User = Schemas["UserView"];
export type Me = Schemas["MeResponse"];
export type TaskStatus = Schemas["TaskStatus"];
export type UploadInstructions = Schemas["UploadInstructions"];

/** An API error: its status and its readable `detail`, and the failing fields of a `422`. */
export class ApiError extends Error {
  readonly status: number;
  readonly fields: Map<string, string>;

  constructor(status: number, detail: string, errors?: Schemas["FieldError"][] | null) {
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.fields = new Map(
      (errors ?? []).map((e) => [String(e.loc[e.loc.length - 1] ?? ""), e.msg] as [string, string]),
    );
  }
}

/** An ApiError from a response body (JSON `detail`, or the status when there is none). */
export async function errorFrom(response: Response): Promise<ApiError> {
  const body = await response.json().catch(() => null);
  return errorFromBody(response.status, body);
}

export function errorFromBody(status: number, body: unknown): ApiError {
  const detail =
    body && typeof body === "object" && "detail" in body && typeof body.detail === "string"
      ? body.detail
      : status === 0
        ? "Writers cannot be reached: check your connection and try again."
        : `The server answered ${status}.`;
  const errors = body && typeof body === "object" && "errors" in body ? (body.errors as Schemas["FieldError"][]) : null;
  return new ApiError(status, detail, errors);
}

type SignedOutListener = () => void;
const signedOutListeners = new Set<SignedOutListener>();

/** Called when the session is over (refresh refused): the app then shows the sign-in page. */
export function onSignedOut(listener: SignedOutListener): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

function signedOut() {
  for (const listener of signedOutListeners) listener();
}

/** Paths whose 401 means "wrong credentials" or "no session", never "refresh and retry". */
const NO_REFRESH = ["/auth/login", "/auth/register", "/auth/refresh", "/auth/logout", "/auth/token", "/auth/password-reset"];

export function refreshes(url: string): boolean {
  const path = new URL(url, location.origin).pathname;
  return !NO_REFRESH.some((p) => path.startsWith(p));
}

let refreshing: Promise<boolean> | null = null;

/** One refresh at a time in this tab, and (where the browser has Web Locks) across tabs. */
export function refreshSession(): Promise<boolean> {
  refreshing ??= (async () => {
    const attempt = async () => {
      const response = await fetch("/auth/refresh", { method: "POST", credentials: "same-origin" });
      return response.ok;
    };
    try {
      return navigator.locks ? await navigator.locks.request("writers-refresh", attempt) : await attempt();
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** fetch, with one refresh and retry on a 401; a refused refresh signs the app out. */
export async function authedFetch(request: Request): Promise<Response> {
  const retry = request.clone();
  const response = await fetch(request);
  if (response.status !== 401 || !refreshes(request.url)) return response;
  if (await refreshSession()) return fetch(retry);
  signedOut();
  return response;
}

export const api = createClient<paths>({
  baseUrl: location.origin,
  credentials: "same-origin",
  fetch: authedFetch,
});

/** The data of an openapi-fetch result, or its error thrown as an ApiError. */
export async function ok<T>(result: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let settled;
  try {
    settled = await result;
  } catch {
    throw errorFromBody(0, null);
  }
  const { data, error, response } = settled;
  if (!response.ok) throw errorFromBody(response.status, error);
  return data as T;
}

/** The weak or strong ETag the API sent for a task's version (`If-Match` for edits). */
export const etagOf = (task: Pick<Task, "version">) => `"${task.version}"`;
