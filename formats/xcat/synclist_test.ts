// Tests for the synclist parser and the MERGE of password-style files.

import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { mergeColonFile, parseSynclist, SynclistSyntaxError } from "./synclist.ts";

Deno.test("parseSynclist: copies, several sources, node ranges and sections", () => {
  const text = [
    "# synclist for compute",
    "/install/sync/hosts -> /etc/hosts",
    "/install/sync/a /install/sync/b -> /etc/conf/",
    "/install/sync/motd -> (node1,node2) /etc/motd",
    "",
    "APPEND:",
    "/install/sync/extra -> /etc/profile",
    "EXECUTE:",
    "/install/sync/post.sh",
    "EXECUTEALWAYS:",
    "/install/sync/always.sh",
    "MERGE:",
    "/install/sync/passwd -> /etc/passwd",
  ].join("\n");
  assertEquals(parseSynclist(text), [
    {
      kind: "copy",
      section: "sync",
      sources: ["/install/sync/hosts"],
      destination: "/etc/hosts",
      line: 2,
    },
    {
      kind: "copy",
      section: "sync",
      sources: ["/install/sync/a", "/install/sync/b"],
      destination: "/etc/conf/",
      line: 3,
    },
    {
      kind: "copy",
      section: "sync",
      sources: ["/install/sync/motd"],
      destination: "/etc/motd",
      noderange: "node1,node2",
      line: 4,
    },
    {
      kind: "copy",
      section: "APPEND",
      sources: ["/install/sync/extra"],
      destination: "/etc/profile",
      line: 7,
    },
    { kind: "script", section: "EXECUTE", path: "/install/sync/post.sh", line: 9 },
    { kind: "script", section: "EXECUTEALWAYS", path: "/install/sync/always.sh", line: 11 },
    {
      kind: "copy",
      section: "MERGE",
      sources: ["/install/sync/passwd"],
      destination: "/etc/passwd",
      line: 13,
    },
  ]);
});

Deno.test("parseSynclist: malformed lines name their line number", () => {
  const failsAt = (text: string, line: number) =>
    throws(() => parseSynclist(text), (error) => {
      return error instanceof SynclistSyntaxError && error.line === line;
    });
  failsAt("/a/b\n", 1);
  failsAt("# x\n/a -> \n", 2);
  failsAt("-> /etc/x\n", 1);
  failsAt("/a -> /b /c\n", 1);
  failsAt("MERGE:\n/a /b -> /etc/passwd\n", 2);
  failsAt("EXECUTE:\n/a -> /b\n", 2);
});

Deno.test("mergeColonFile: replaces same-name entries, appends new ones, keeps order", () => {
  const base = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/sbin/nologin\n";
  const addition = "alice:x:1000:1000::/home/alice:/bin/bash\nroot:x:0:0:admin:/root:/bin/zsh\n";
  assertEquals(
    mergeColonFile(base, addition),
    "root:x:0:0:admin:/root:/bin/zsh\ndaemon:x:1:1::/:/sbin/nologin\n" +
      "alice:x:1000:1000::/home/alice:/bin/bash\n",
  );
  assertEquals(mergeColonFile("", "a:1\n"), "a:1\n");
});
