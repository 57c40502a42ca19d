import { describe, expect, it } from "vitest";
import { fill, pace, readingTime, summary } from "./progress";

describe("progress", () => {
  it("states words against the target", () => {
    expect(summary({ words: 12400, target: 80000, percent: 15.5 })).toBe("12,400 of 80,000 words (15.5%)");
    expect(summary({ words: 1 })).toBe("1 word");
  });
  it("fills the bar to at most 100", () => {
    expect(fill({ words: 40, target: 80 })).toBe(50);
    expect(fill({ words: 120, target: 80 })).toBe(100);
    expect(fill({ words: 120 })).toBe(0);
  });
  it("states the pace the due date asks for", () => {
    expect(pace({ words: 4000, target: 10000, days_left: 9, words_per_day_needed: 600 })).toBe(
      "600 words a day for 10 days to reach the target by the due date.",
    );
    expect(pace({ words: 9990, target: 10000, days_left: 0, words_per_day_needed: 10 })).toBe(
      "10 words today to reach the target by the due date.",
    );
    expect(pace({ words: 10, target: 10 })).toBe("Target reached.");
    expect(pace({ words: 1, target: 10, days_left: -2 })).toBe("The due date has passed.");
    expect(pace({ words: 1, target: 10 })).toBeNull();
  });
  it("reads minutes as a reading time", () => {
    expect(readingTime(0.4)).toBe("under a minute");
    expect(readingTime(42.2)).toBe("42 min");
    expect(readingTime(80)).toBe("1 h 20 min");
    expect(readingTime(null)).toBeNull();
  });
});
