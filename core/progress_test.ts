// Tests for the terminal progress line: bytes with a rate, items as counted.

import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { terminalProgress } from "./progress.ts";

Deno.test("terminalProgress counting items shows the label's count, no byte rate", () => {
  const written: string[] = [];
  const progress = terminalProgress(
    (text) => void written.push(text),
    true,
    "dnf",
    undefined,
    "items",
  );
  progress.label("2/5 osimg-alpha-1.0-1.noarch");
  progress.done();
  assertEquals(written, ["\r\x1b[2Kdnf 2/5 osimg-alpha-1.0-1.noarch", "\r\x1b[2K"]);
});

Deno.test("terminalProgress counting bytes keeps its amount and rate", () => {
  const written: string[] = [];
  const progress = terminalProgress((text) => void written.push(text), true, "Packing", 1000);
  progress.advance(500);
  const [clear, line] = [written[0]!.slice(0, 5), written[0]!.slice(5)];
  assertEquals(clear, "\r\x1b[2K");
  ok(/^Packing 50% \S+ \S+\/s $/.test(line), line);
});

Deno.test("terminalProgress writes nothing when stderr is not a terminal", () => {
  const written: string[] = [];
  const progress = terminalProgress((text) => void written.push(text), false, "dnf", 3, "items");
  progress.label("1/3 x");
  progress.done();
  assertEquals(written, []);
});
