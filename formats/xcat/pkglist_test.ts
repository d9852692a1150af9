// Tests for xCAT's pkglist syntax: golden expansions and one test per malformed list.

import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import { InvalidInputError, NotFoundError } from "../../core/errors.ts";
import {
  expandVariables,
  installedNames,
  type PackageList,
  parsePackageListText,
  readPackageList,
} from "./pkglist.ts";
import { assertGolden } from "../../testdata/support/testing.ts";

/** A reader over an in-memory tree of list files, remembering what was read. */
function filesReader(files: Record<string, string>) {
  const reads: string[] = [];
  return {
    reads,
    read: (path: string) => {
      reads.push(path);
      return Promise.resolve(files[path]);
    },
  };
}

/** The inputs and the expansion side by side, for the golden file. */
function render(files: Record<string, string>, list: PackageList): string {
  const input = Object.entries(files)
    .map(([path, text]) => `==> ${path} <==\n${text}`)
    .join("");
  const passes = list.passes.map((pass) =>
    [
      `pass ${pass.number}`,
      ...Object.entries(pass.env).map(([name, value]) => `  env ${name}=${value}`),
      `  remove before: ${pass.removeBefore.join(" ")}`,
      `  install: ${
        pass.install.map((request) =>
          request.directory ? `${request.directory}/${request.name}` : request.name
        ).join(" ")
      }`,
      `  remove after: ${pass.removeAfter.join(" ")}`,
    ].join("\n")
  );
  return `${input}==> expanded <==\n${passes.join("\n")}\nfiles: ${list.files.join(" ")}\n`;
}

const COMPUTE: Record<string, string> = {
  "/install/custom/netboot/rh/compute.pkglist": [
    "# compute nodes: base system",
    "",
    "bash, coreutils   rpm",
    "  @core",
    "@^minimal-environment # the environment group",
    "kernel\r",
    "#INCLUDE:common/net.pkglist#",
    "#INCLUDE:${SITE_LISTS}/site.pkglist#",
    "-firewalld",
    "#NEW_INSTALL_LIST#",
    "#ENV:ACCEPT_EULA=yes#",
    "vendor-tools",
    "--vendor-installer",
    "bash",
    "# a comment with #INCLUDE:nothing.pkglist# inside is still a comment",
    "#INCLUDE without its closing hash is a comment",
    "",
  ].join("\n"),
  "/install/custom/netboot/rh/common/net.pkglist": [
    "dhclient openssh-server",
    // Nested and relative: xCAT resolves it from the top list's directory, not this one's.
    "#INCLUDE:common/extra.pkglist#",
    "",
  ].join("\n"),
  "/install/custom/netboot/rh/common/extra.pkglist": "rsync\nbash\n",
  "/srv/lists/site.pkglist": "chrony\n",
};

Deno.test("readPackageList: comments, blank lines, several names per line, groups, removals, ENV, passes and includes (golden)", async () => {
  const { read } = filesReader(COMPUTE);
  const list = await readPackageList("/install/custom/netboot/rh/compute.pkglist", {
    read,
    env: { SITE_LISTS: "/srv/lists" },
  });
  assertEquals(installedNames(list), [
    "bash",
    "coreutils",
    "rpm",
    "@core",
    "@^minimal-environment",
    "kernel",
    "dhclient",
    "openssh-server",
    "rsync",
    "chrony",
    "vendor-tools",
  ]);
  await assertGolden("genimage/pkglist_compute.txt", render(COMPUTE, list));
});

const OTHERPKGS: Record<string, string> = {
  "/install/post/otherpkgs/compute.otherpkgs.pkglist": [
    "mlnx/mlnx-ofed-basic",
    "mlnx/./mlnx-tools",
    "xcat/xcat-core/xCATsn",
    "slurm",
    "#NEW_INSTALL_LIST#",
    "#NEW_INSTALL_LIST#",
    "lustre/lustre-client",
    "-lustre/old-lustre",
    "",
  ].join("\n"),
  "/install/post/otherpkgs/gpu.otherpkgs.pkglist": "#ENV:NV_ACCEPT=1#\ncuda/cuda-driver\n",
};

Deno.test("readPackageList: several files, sub-directories and pass numbers as xCAT merges them (golden)", async () => {
  const { read } = filesReader(OTHERPKGS);
  const list = await readPackageList(
    " /install/post/otherpkgs/compute.otherpkgs.pkglist, /install/post/otherpkgs/gpu.otherpkgs.pkglist",
    { read, attribute: "otherpkglist" },
  );
  // Pass 1 of each file is one pass; the empty pass 2 is left out and pass 3 keeps its number.
  assertEquals(list.passes.map((pass) => pass.number), [1, 3]);
  assertEquals(list.passes[0]!.env, { NV_ACCEPT: "1" });
  assertEquals(list.passes[0]!.install.map((request) => request.directory), [
    "mlnx",
    "mlnx",
    "xcat/xcat-core",
    "",
    "cuda",
  ]);
  await assertGolden("genimage/pkglist_otherpkgs.txt", render(OTHERPKGS, list));
});

Deno.test("readPackageList: the same file included twice side by side is read twice, not a loop", async () => {
  const files = {
    "/l/top.pkglist": "#INCLUDE:a.pkglist#\n#NEW_INSTALL_LIST#\n#INCLUDE:a.pkglist#\n",
    "/l/a.pkglist": "bash\n",
  };
  const { read, reads } = filesReader(files);
  const list = await readPackageList("/l/top.pkglist", { read });
  assertEquals(reads, ["/l/top.pkglist", "/l/a.pkglist", "/l/a.pkglist"]);
  assertEquals(list.passes.map((pass) => pass.install.map((request) => request.name)), [
    ["bash"],
    ["bash"],
  ]);
});

Deno.test("readPackageList: a list that includes itself through another is an error naming the chain", async () => {
  const { read } = filesReader({
    "/l/top.pkglist": "bash\n#INCLUDE:b.pkglist#\n",
    "/l/b.pkglist": "#INCLUDE:/l/./top.pkglist#\n",
  });
  await rejects(readPackageList("/l/top.pkglist", { read }), (error: Error) => {
    assertEquals(error instanceof InvalidInputError, true);
    assertEquals(
      error.message,
      "The pkglist /l/top.pkglist includes itself: /l/top.pkglist -> /l/b.pkglist -> /l/top.pkglist",
    );
    return true;
  });
});

Deno.test("readPackageList: a list that includes itself directly is an error", async () => {
  const { read } = filesReader({ "/l/top.pkglist": "#INCLUDE:top.pkglist#\n" });
  await rejects(
    readPackageList("/l/top.pkglist", { read }),
    /includes itself: \/l\/top.pkglist -> \/l\/top.pkglist$/,
  );
});

Deno.test("readPackageList: an include that cannot be read names the file and where it is included", async () => {
  const { read } = filesReader({ "/l/top.pkglist": "bash\n\n#INCLUDE:$NOPE/missing.pkglist#\n" });
  await rejects(readPackageList("/l/top.pkglist", { read }), (error: Error) => {
    assertEquals(error instanceof NotFoundError, true);
    assertEquals(
      error.message,
      "Unable to open the following pkglist files: /l/$NOPE/missing.pkglist (#INCLUDE:$NOPE/missing.pkglist# at /l/top.pkglist:3)",
    );
    return true;
  });
});

Deno.test("readPackageList: a missing top-level list is xCAT's 'does not exist' error", async () => {
  const { read } = filesReader({});
  await rejects(
    readPackageList("/install/custom/none.pkglist", { read, attribute: "otherpkglist" }),
    (error: Error) =>
      error instanceof NotFoundError &&
      error.message === "The otherpkglist specified '/install/custom/none.pkglist' does not exist!",
  );
});

Deno.test("readPackageList: a relative top-level path is refused", async () => {
  const { read } = filesReader({ "compute.pkglist": "bash\n" });
  await rejects(readPackageList("compute.pkglist", { read }), /is not an absolute path/);
});

Deno.test("readPackageList: a name that would reach the package manager as an option is refused", async () => {
  const { read } = filesReader({ "/l/top.pkglist": "bash\n---setopt=reposdir=/tmp\n" });
  await rejects(
    readPackageList("/l/top.pkglist", { read }),
    /^InvalidInputError: \/l\/top.pkglist:2: '---setopt=reposdir=\/tmp' is not a package name$/,
  );
});

Deno.test("readPackageList: a bare '-' or '--' is refused, not taken as an empty removal", async () => {
  const { read } = filesReader({ "/l/top.pkglist": "bash --\n" });
  await rejects(readPackageList("/l/top.pkglist", { read }), /'--' is not a package name/);
});

Deno.test("readPackageList: a sub-directory that leaves otherpkgdir is refused", async () => {
  const { read } = filesReader({ "/l/top.pkglist": "ok/pkg\nok/../../etc/shadow\n" });
  await rejects(
    readPackageList("/l/top.pkglist", { read }),
    /\/l\/top.pkglist:2: 'ok\/..\/..\/etc\/shadow' leaves the package directory/,
  );
});

Deno.test("parsePackageListText: a malformed #ENV# names the file and line", () => {
  let message = "";
  try {
    parsePackageListText("bash\n#ENV:1BAD=x#\n", "/l/top.pkglist");
  } catch (error) {
    message = (error as Error).message;
  }
  assertEquals(message, "/l/top.pkglist:2: '#ENV:1BAD=x#' is not #ENV:VARIABLE=value#");
});

Deno.test("parsePackageListText: text pasted after a directive is refused, a trailing comment is not", () => {
  assertEquals(parsePackageListText("#NEW_INSTALL_LIST#   # next pass\n", "/x"), [
    { kind: "new-pass", line: 1 },
  ]);
  let message = "";
  try {
    parsePackageListText("#INCLUDE:a.pkglist#bash\n", "/x");
  } catch (error) {
    message = (error as Error).message;
  }
  assertEquals(message, "/x:1: text after #INCLUDE...#; put it on a line of its own");
});

Deno.test("parsePackageListText: an empty #INCLUDE:# is refused", () => {
  let message = "";
  try {
    parsePackageListText("#INCLUDE: #\n", "/x");
  } catch (error) {
    message = (error as Error).message;
  }
  assertEquals(message, "/x:1: #INCLUDE:# names no file");
});

Deno.test("expandVariables: $VAR and ${VAR} from the environment, unknown ones kept", () => {
  assertEquals(
    expandVariables("$A/${B}/$C/${D}x", { A: "/srv", B: "lists" }),
    "/srv/lists/$C/${D}x",
  );
});
