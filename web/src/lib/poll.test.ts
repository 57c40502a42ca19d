import { describe, expect, it } from "vitest";
import { isSettled, pollDelay } from "./poll";

describe("pollDelay", () => {
  it("backs off from a second to at most fifteen", () => {
    expect(pollDelay(0)).toBe(1000);
    expect(pollDelay(1)).toBe(1500);
    expect(pollDelay(2)).toBe(2250);
    const delays = Array.from({ length: 30 }, (_, n) => pollDelay(n));
    expect(delays.every((d, n) => n === 0 || d >= delays[n - 1]!)).toBe(true);
    expect(Math.max(...delays)).toBe(15_000);
  });
});

describe("isSettled", () => {
  it("waits while the task or any draft is processing", () => {
    expect(isSettled({ status: "in_progress" })).toBe(false);
    expect(isSettled({ status: "pending" }, [{ state: "processed" }, { state: "processing" }])).toBe(false);
    expect(isSettled({ status: "pending" }, [{ state: "processed" }, { state: "failed" }])).toBe(true);
    expect(isSettled({ status: "completed" })).toBe(true);
  });
});
