// Manuscript uploads with progress (XHR: fetch reports none). Up to 4 MiB a file goes through the
// API in one multipart request; a larger one gets a presigned PUT straight to storage, so the
// writer sees one progress bar either way.
import { type Draft, type Task, type UploadInstructions, ApiError, errorFromBody, refreshSession, refreshes } from "./client";
import { routeFor } from "../lib/files";

export type Progress = (sent: number, total: number) => void;

interface Sent {
  status: number;
  body: unknown;
}

function xhr(method: string, url: string, body: XMLHttpRequestBodyInit, headers: Record<string, string>, onProgress: Progress, signal?: AbortSignal): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(method, url);
    request.withCredentials = false;
    for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    };
    request.onload = () => {
      let parsed: unknown = null;
      try {
        parsed = request.responseText ? JSON.parse(request.responseText) : null;
      } catch {
        parsed = null;
      }
      resolve({ status: request.status, body: parsed });
    };
    request.onerror = () => reject(errorFromBody(0, null));
    request.onabort = () => reject(new ApiError(0, "The upload was cancelled."));
    signal?.addEventListener("abort", () => request.abort());
    request.send(body);
  });
}

/** An API request by XHR, with the same one refresh and retry on a 401 as every other call. */
async function apiXhr(method: string, path: string, body: () => XMLHttpRequestBodyInit, headers: Record<string, string>, onProgress: Progress, signal?: AbortSignal): Promise<unknown> {
  let sent = await xhr(method, path, body(), headers, onProgress, signal);
  if (sent.status === 401 && refreshes(path) && (await refreshSession())) {
    sent = await xhr(method, path, body(), headers, onProgress, signal);
  }
  if (sent.status < 200 || sent.status >= 300) throw errorFromBody(sent.status, sent.body);
  return sent.body;
}

/** The file to storage with exactly the signed headers; S3's refusal is said in words. */
async function putToStorage(upload: UploadInstructions, file: Blob, onProgress: Progress, signal?: AbortSignal) {
  const headers = Object.fromEntries(
    // A browser sets Content-Length itself and refuses to be told it.
    Object.entries(upload.headers).filter(([name]) => name.toLowerCase() !== "content-length"),
  );
  const sent = await xhr(upload.method, upload.url, file, headers, onProgress, signal);
  if (sent.status < 200 || sent.status >= 300) {
    throw new ApiError(sent.status, `Storage refused the upload (${sent.status}); try again.`);
  }
}

export interface NewTask {
  title: string;
  description?: string | null;
  due_date?: string | null;
  word_target?: number | null;
}

/** Creates a task, with its manuscript when there is one. */
export async function createTask(fields: NewTask, file: File | null, onProgress: Progress, signal?: AbortSignal): Promise<Task> {
  const json = { "content-type": "application/json" };
  if (!file) {
    return (await apiXhr("POST", "/api/v1/tasks", () => JSON.stringify(fields), json, onProgress, signal)) as Task;
  }
  const route = routeFor(file);
  if (route.via === "form") {
    const form = () => {
      const data = new FormData();
      data.set("title", fields.title);
      if (fields.description) data.set("description", fields.description);
      if (fields.due_date) data.set("due_date", fields.due_date);
      if (fields.word_target != null) data.set("word_target", String(fields.word_target));
      data.set("file", file, file.name);
      return data;
    };
    return (await apiXhr("POST", "/api/v1/tasks", form, {}, onProgress, signal)) as Task;
  }
  const declared = { name: file.name, size: file.size, content_type: route.contentType };
  const created = (await apiXhr("POST", "/api/v1/tasks/uploads", () => JSON.stringify({ ...fields, file: declared }), json, () => {}, signal)) as Task & { upload: UploadInstructions };
  await putToStorage(created.upload, file, onProgress, signal);
  return created;
}

/** Uploads a new draft of a task's manuscript. */
export async function createDraft(taskId: string, file: File, onProgress: Progress, signal?: AbortSignal): Promise<Draft> {
  const route = routeFor(file);
  const base = `/api/v1/tasks/${encodeURIComponent(taskId)}/drafts`;
  if (route.via === "form") {
    const form = () => {
      const data = new FormData();
      data.set("file", file, file.name);
      return data;
    };
    return (await apiXhr("POST", base, form, {}, onProgress, signal)) as Draft;
  }
  const declared = { name: file.name, size: file.size, content_type: route.contentType };
  const created = (await apiXhr("POST", `${base}/uploads`, () => JSON.stringify({ file: declared }), { "content-type": "application/json" }, () => {}, signal)) as Draft & { upload: UploadInstructions };
  await putToStorage(created.upload, file, onProgress, signal);
  return created;
}
