import { describe, expect, it } from "vitest";
import { fromDateInput, relativeDue, toDateInput } from "./dates";

const at = (y: number, m: number, d: number, h = 12) => new Date(y, m - 1, d, h);

describe("relativeDue", () => {
  const now = at(2026, 12, 3, 9);
  it("counts calendar days ahead", () => {
    expect(relativeDue(at(2026, 12, 6, 8), now)).toEqual({ text: "in 3 days", overdue: false });
    expect(relativeDue(at(2026, 12, 4, 23), now)).toEqual({ text: "due tomorrow", overdue: false });
  });
  it("marks late tasks by the days they are late", () => {
    expect(relativeDue(at(2026, 12, 1, 23), now)).toEqual({ text: "2 days late", overdue: true });
    expect(relativeDue(at(2026, 12, 2, 23), now)).toEqual({ text: "1 day late", overdue: true });
  });
  it("is late on the due day once its hour has passed", () => {
    expect(relativeDue(at(2026, 12, 3, 17), now)).toEqual({ text: "due today", overdue: false });
    expect(relativeDue(at(2026, 12, 3, 8), now)).toEqual({ text: "due today, late", overdue: true });
  });
  it("crosses months and years by the calendar", () => {
    expect(relativeDue(at(2027, 1, 2), at(2026, 12, 31, 23)).text).toBe("in 2 days");
    expect(relativeDue(at(2027, 6, 1), now).text).toBe("in 6 months");
  });
});

describe("date inputs", () => {
  it("round-trip a local day, due at its end", () => {
    const iso = fromDateInput("2026-12-24")!;
    expect(new Date(iso).getHours()).toBe(23);
    expect(toDateInput(iso)).toBe("2026-12-24");
  });
  it("treat an empty or broken value as no date", () => {
    expect(fromDateInput("")).toBeNull();
    expect(fromDateInput("2026-xx-01")).toBeNull();
    expect(toDateInput(null)).toBe("");
  });
});
