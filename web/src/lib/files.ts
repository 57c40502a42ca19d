// What the web app checks about a manuscript before sending a byte, and which way it is sent.

/** Through the API in one multipart request up to this size (the API's `MAX_UPLOAD_BYTES`). */
export const FORM_UPLOAD_MAX = 4 * 1024 * 1024;
/** Straight to S3 with a presigned PUT up to this size (`MAX_DIRECT_UPLOAD_BYTES`). */
export const DIRECT_UPLOAD_MAX = 100 * 1024 * 1024;

const EXTENSIONS = new Map([
  ["docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"],
  ["txt", "text/plain"],
  ["text", "text/plain"],
  ["md", "text/markdown"],
  ["markdown", "text/markdown"],
]);

/** For the file picker's `accept`. */
export const ACCEPT = [...EXTENSIONS.keys()].map((e) => `.${e}`).join(",");

export interface Manuscript {
  name: string;
  size: number;
  type: string;
}

export type Route = { via: "form" } | { via: "direct"; contentType: string };

/** The reason `file` cannot be sent, in words for the writer, or `null`. */
export function problemWith(file: Manuscript): string | null {
  const extension = file.name.includes(".") ? file.name.split(".").pop()!.toLowerCase() : "";
  if (!EXTENSIONS.has(extension)) {
    return `“${file.name}” is not a manuscript Writers can read: choose a .docx, .txt or .md file.`;
  }
  if (file.size === 0) return `“${file.name}” is empty.`;
  if (file.size > DIRECT_UPLOAD_MAX) {
    return `“${file.name}” is ${formatBytes(file.size)}; the most Writers takes is ${formatBytes(DIRECT_UPLOAD_MAX)}.`;
  }
  return null;
}

/** The content type to declare: the browser's, else the one its extension implies. */
export function contentTypeOf(file: Manuscript): string {
  if (file.type) return file.type;
  const extension = file.name.split(".").pop()?.toLowerCase() ?? "";
  return EXTENSIONS.get(extension) ?? "application/octet-stream";
}

/** Small files go through the API; larger ones straight to storage, without the writer noticing. */
export function routeFor(file: Manuscript): Route {
  return file.size <= FORM_UPLOAD_MAX ? { via: "form" } : { via: "direct", contentType: contentTypeOf(file) };
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}
