import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import {
  type BundleSpec,
  makeBundle,
  NETBOOT_TARGETS,
  netbootFiles,
  rootState,
} from "./bundle_testing.ts";
import { testRoot } from "./testing.ts";

const IMAGE = "rhels8.8.0-x86_64-netboot-compute";

async function bundleIn(dir: string, name: string, spec: BundleSpec): Promise<string> {
  const path = `${dir}/${name}`;
  await makeBundle(path, spec);
  return path;
}

Deno.test("compat: an xCAT-made netboot bundle (GNU tar czf ., ./ names) imports with a warning", async () => {
  await using t = await testRoot();
  const bundle = await bundleIn(t.root, "x.tgz", { files: netbootFiles() });
  const output = await t.ok(["imgimport", bundle]);
  ok(
    output.stderr.includes(
      `Warning: The bundle "${bundle}" has no SHA256SUMS for "${IMAGE}": its contents cannot be verified`,
    ),
    output.stderr,
  );
  ok(output.stdout.startsWith("Unbundling image...\n"), output.stdout);
  ok(output.stdout.endsWith(`Successfully imported the image ${IMAGE}.\n`), output.stdout);
  for (const target of NETBOOT_TARGETS) {
    ok((await Deno.stat(`${t.root}/${target}`)).isFile, target);
  }
  assertEquals(
    await Deno.readTextFile(`${t.root}/install/netboot/rhels8.8.0/x86_64/compute/kernel`),
    "vmlinuz bytes\n",
  );
  assertEquals(await Deno.readLink(`${t.root}/install/mydir/link`), "a.conf");
  const osimage = (await t.ok(["tabdump", "osimage"])).stdout;
  ok(osimage.includes(`"${IMAGE}",,"compute","linux",,"netboot"`), osimage);
  const linuximage = (await t.ok(["tabdump", "linuximage"])).stdout;
  ok(linuximage.includes(`"/install/netboot/rhels8.8.0/x86_64/compute"`), linuximage);
  // Nothing of the staging area is left behind.
  ok(!(await Deno.stat(`${t.root}/install/.osimg-staging`).catch(() => false)));
  void rootState;
});
