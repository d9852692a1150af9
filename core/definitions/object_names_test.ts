// Tests for the object name rules: xCAT's generated names stay valid, names that are paths do not.

import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import {
  checkObjectName,
  checkSnapshotSelector,
  fileNameProblem,
  nameRuleOf,
  objectNameProblem,
  rowNameProblem,
  shownValue,
} from "./object_names.ts";
import { belowProblem, siteDirectoryProblem } from "../paths.ts";
import { InvalidInputError } from "../errors.ts";

Deno.test("names xCAT generates and admins use stay valid osimage names", () => {
  for (
    const name of [
      "rhels7.9-x86_64-netboot-compute",
      "sles15.4-ppc64le-install-compute",
      "rocky9-x86_64-netboot-compute",
      "ubuntu22.04.1-x86_64-statelite-service",
      "rhels8.8.0-x86_64-netboot-compute+gpu",
      "my_image.v2",
      "a",
      "x".repeat(128),
    ]
  ) assertEquals(objectNameProblem("osimage", name), undefined, name);
});

Deno.test("osimage names that are paths, globs, quotes or too long are refused with the rule", () => {
  const cases: [string, string][] = [
    ["..", "The object name '..' is invalid: '.' and '..' name directories, not objects."],
    [".", "The object name '.' is invalid: '.' and '..' name directories, not objects."],
    ["", "The object name '' is invalid: it is empty."],
    [
      "*",
      "The object name '*' is invalid: it contains '*'; only letters, digits, '.', '_', '+' and '-' are allowed.",
    ],
    [
      'a"b',
      `The object name 'a"b' is invalid: it contains '"'; only letters, digits, '.', '_', '+' and '-' are allowed.`,
    ],
    ["a/b", "The object name 'a/b' is invalid: it contains '/'."],
    ["../x", "The object name '../x' is invalid: it contains '/'."],
    ["a b", "The object name 'a b' is invalid: it contains whitespace."],
    ["a\nb", "The object name 'a\\x0ab' is invalid: it contains a control character."],
    ["a\0b", "The object name 'a\\x00b' is invalid: it contains a control character."],
    ["-rf", "The object name '-rf' is invalid: it must not start with '-' or '.'."],
    [".hidden", "The object name '.hidden' is invalid: it must not start with '-' or '.'."],
    [
      "$HOME",
      "The object name '$HOME' is invalid: it contains '$'; only letters, digits, '.', '_', '+' and '-' are allowed.",
    ],
    [
      "a;b",
      "The object name 'a;b' is invalid: it contains ';'; only letters, digits, '.', '_', '+' and '-' are allowed.",
    ],
    [
      "a,b",
      "The object name 'a,b' is invalid: it contains ','; only letters, digits, '.', '_', '+' and '-' are allowed.",
    ],
    [
      "a".repeat(300),
      `The object name '${
        "a".repeat(40)
      }... (300 characters)' is invalid: it is 300 characters long; at most 128 are allowed.`,
    ],
  ];
  for (const [name, message] of cases) {
    assertEquals(objectNameProblem("osimage", name), message);
    throws(
      () => checkObjectName("osimage", name),
      (error: Error) => error instanceof InvalidInputError && error.message === message,
    );
  }
});

Deno.test("nodes and groups keep xCAT's isobjnamevalid rule and messages", () => {
  assertEquals(nameRuleOf("node"), "node");
  assertEquals(nameRuleOf("group"), "node");
  assertEquals(objectNameProblem("node", "cn01"), undefined);
  assertEquals(objectNameProblem("node", "10.0.0.1"), undefined);
  assertEquals(
    objectNameProblem("node", "x.y"),
    "The object name 'x.y' is invalid, Cannot use '.' in node name.",
  );
  assertEquals(
    objectNameProblem("group", ".."),
    "The object name '..' is invalid, Cannot use '.' in node name.",
  );
  assertEquals(
    objectNameProblem("node", "a*"),
    "The object name 'a*' is invalid, only letters, digits, '-' and '_' are allowed.",
  );
  assertEquals(
    objectNameProblem("node", "n".repeat(300)),
    `The object name '${
      "n".repeat(40)
    }... (300 characters)' is invalid, it is longer than 128 characters.`,
  );
  const warnings: string[] = [];
  assertEquals(
    objectNameProblem("node", "CN01", { warn: (text) => void warnings.push(text) }),
    undefined,
  );
  assertEquals(warnings, [
    "The object name 'CN01' contains capital letters which may not be resolved correctly by the dns server.",
  ]);
});

Deno.test("network names (never a path) keep the general rule; '..' is still refused", () => {
  assertEquals(objectNameProblem("network", "10_0_0_0-255_255_0_0"), undefined);
  assertEquals(
    objectNameProblem("network", "a,b"),
    "The object name 'a,b' is invalid: it must not contain spaces, ',' or '/'.",
  );
  assertEquals(
    objectNameProblem("network", ".."),
    "The object name '..' is invalid: '.' and '..' name directories, not objects.",
  );
});

Deno.test("snapshot selectors are an id or a digest prefix, nothing else", () => {
  checkSnapshotSelector("1");
  checkSnapshotSelector("12");
  checkSnapshotSelector("0123abc");
  checkSnapshotSelector("f".repeat(64));
  for (const selector of ["../x", "0", "abc", "1/2", "", "F".repeat(7), "f".repeat(65)]) {
    throws(
      () => checkSnapshotSelector(selector),
      (error: Error) =>
        error instanceof InvalidInputError &&
        error.message.startsWith(`The snapshot id '${shownValue(selector)}' is invalid: `),
    );
  }
});

Deno.test("tabrestore rows: key columns follow their type's rule, osimage path attributes too", () => {
  assertEquals(
    rowNameProblem("osimage", { imagename: "rhels7.9-x86_64-netboot-compute" }),
    undefined,
  );
  assertEquals(rowNameProblem("osimage", { imagename: ".." }), {
    column: "imagename",
    problem: "The object name '..' is invalid: '.' and '..' name directories, not objects.",
  });
  assertEquals(rowNameProblem("osimage", { imagename: "img", profile: "../../etc" }), {
    column: "profile",
    problem: "The profile '../../etc' of the osimage 'img' is invalid: it contains '/'.",
  });
  assertEquals(rowNameProblem("linuximage", { imagename: "a*" })?.column, "imagename");
  assertEquals(
    rowNameProblem("nodelist", { node: "x.y" })?.problem,
    "The object name 'x.y' is invalid, Cannot use '.' in node name.",
  );
  assertEquals(rowNameProblem("nodegroup", { groupname: "compute" }), undefined);
  assertEquals(rowNameProblem("kit", { kitname: "../kit" })?.column, "kitname");
  // A table whose rows name no object is not checked.
  assertEquals(rowNameProblem("litefile", { image: "ALL", file: "/etc/x" }), undefined);
});

Deno.test("a path from a table value must lie strictly below its directory", () => {
  assertEquals(belowProblem("/install", "/install/netboot/rocky9/x86_64/compute"), undefined);
  assertEquals(belowProblem("/install", "/install"), "it is not below '/install'");
  assertEquals(belowProblem("/install", "/"), "it is not below '/install'");
  assertEquals(belowProblem("/install", "/etc"), "it is not below '/install'");
  assertEquals(belowProblem("/install", "/install/../etc"), "it has '.' or '..' parts");
  assertEquals(belowProblem("/install", "/install/./x"), "it has '.' or '..' parts");
  assertEquals(belowProblem("/install", "install/x"), "it is not an absolute path");
  assertEquals(siteDirectoryProblem("/install"), undefined);
  assertEquals(siteDirectoryProblem("/"), "it is the root directory");
  assertEquals(siteDirectoryProblem("/tftpboot/.."), "it has '.' or '..' parts");
  assertEquals(fileNameProblem("x"), undefined);
  assertEquals(shownValue("a\x1bb"), "a\\x1bb");
});
