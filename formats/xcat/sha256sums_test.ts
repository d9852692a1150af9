// Tests for SHA256SUMS: round trips, GNU sha256sum's escaping (cross-checked with the real tool), bad lines.

import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { createHash } from "node:crypto";
import { IntegrityError } from "../../core/errors.ts";
import { parseSha256Sums, serializeSha256Sums } from "./sha256sums.ts";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

const AWKWARD: Record<string, string> = {
  "manifest.xml": "m",
  "back\\slash": "a",
  "new\nline": "b",
  "carriage\rreturn": "c",
  "sp ace": "d",
  "extra/tmp/mydir/*star": "e",
  "ünï": "f",
};

Deno.test("serialize matches GNU sha256sum's own output, escapes included", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const names = Object.keys(AWKWARD).map((name) => name.replaceAll("/", "_")).sort();
    for (const name of names) {
      await Deno.writeTextFile(`${dir}/${name}`, AWKWARD[name.replaceAll("_", "/")] ?? name);
    }
    const contents = Object.fromEntries(
      names.map((name) => [name, Deno.readTextFileSync(`${dir}/${name}`)]),
    );
    const ours = serializeSha256Sums(
      names.map((path) => ({ path, digest: sha256(contents[path]!) })),
    );
    const output = await new Deno.Command("sha256sum", { args: ["--", ...names], cwd: dir })
      .output();
    assertEquals(output.code, 0);
    assertEquals(ours, new TextDecoder().decode(output.stdout));
    // And sha256sum -c accepts our file.
    await Deno.writeTextFile(`${dir}/SHA256SUMS`, ours);
    const check = await new Deno.Command("sha256sum", {
      args: ["-c", "--strict", "SHA256SUMS"],
      cwd: dir,
    }).output();
    assertEquals(check.code, 0, new TextDecoder().decode(check.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("parse(serialize(x)) == x for awkward names", () => {
  const lines = Object.entries(AWKWARD).map(([path, text]) => ({ path, digest: sha256(text) }));
  assertEquals(parseSha256Sums(serializeSha256Sums(lines)), lines);
});

Deno.test("parse accepts binary markers, uppercase digests and a missing final newline", () => {
  const digest = sha256("x");
  assertEquals(parseSha256Sums(`${digest.toUpperCase()} *a b\n${digest}  c`), [
    { digest, path: "a b" },
    { digest, path: "c" },
  ]);
  assertEquals(parseSha256Sums(""), []);
});

Deno.test("hostile: malformed lines, bad escapes and duplicates are refused with the line number", () => {
  const digest = sha256("x");
  for (
    const [text, pattern] of [
      [`${digest} a\n`, /line 1 is not/],
      [`${digest}  a\n\n`, /line 2 is not/],
      [`${digest.slice(1)}  a\n`, /line 1 is not/],
      [`\\${digest}  a\\tb\n`, /unknown escape/],
      [`${digest}  \n`, /no file name/],
      [`${digest}  a\n${digest}  a\n`, /line 2 lists 'a' a second time/],
    ] as const
  ) {
    throws(
      () => parseSha256Sums(text),
      (error) => error instanceof IntegrityError && pattern.test(error.message),
      text,
    );
  }
  throws(() => serializeSha256Sums([{ digest: "zz", path: "a" }]), IntegrityError);
});
