import { describe, expect, it } from "vitest";
import { DIRECT_UPLOAD_MAX, FORM_UPLOAD_MAX, contentTypeOf, formatBytes, problemWith, routeFor } from "./files";

const file = (name: string, size: number, type = "") => ({ name, size, type });

describe("problemWith", () => {
  it("accepts manuscripts up to the direct-upload limit", () => {
    expect(problemWith(file("novel.docx", DIRECT_UPLOAD_MAX))).toBeNull();
    expect(problemWith(file("Notes.MD", 10))).toBeNull();
  });
  it("names the problem before anything is sent", () => {
    expect(problemWith(file("novel.docx", DIRECT_UPLOAD_MAX + 1))).toMatch(/100 MiB/);
    expect(problemWith(file("empty.txt", 0))).toMatch(/empty/);
    expect(problemWith(file("photo.jpg", 10))).toMatch(/\.docx, \.txt or \.md/);
    expect(problemWith(file("README", 10))).toMatch(/not a manuscript/);
  });
});

describe("routeFor", () => {
  it("sends small files through the API and large ones straight to storage", () => {
    expect(routeFor(file("a.txt", FORM_UPLOAD_MAX))).toEqual({ via: "form" });
    expect(routeFor(file("a.docx", FORM_UPLOAD_MAX + 1))).toEqual({
      via: "direct",
      contentType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    });
  });
  it("prefers the browser's content type and falls back to the extension's", () => {
    expect(contentTypeOf(file("a.md", 1, "text/x-markdown"))).toBe("text/x-markdown");
    expect(contentTypeOf(file("a.md", 1))).toBe("text/markdown");
  });
});

describe("formatBytes", () => {
  it("reads like a file manager", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(6 * 1024 * 1024)).toBe("6.0 MiB");
    expect(formatBytes(100 * 1024 * 1024)).toBe("100 MiB");
  });
});
