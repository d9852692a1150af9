// Runs the whole test suite: installs the Debian tools the tests use (as root), then
// `deno test` with a JUnit report, and ends with one line `N passed, N failed`.

import { existsSync } from "node:fs";

/** Debian packages whose programs the tests run against what osimg writes. */
export const TEST_PACKAGES: Record<string, string> = {
  cpio: "cpio",
  tar: "tar",
  bsdtar: "libarchive-tools",
  xorriso: "xorriso",
  mksquashfs: "squashfs-tools",
  unsquashfs: "squashfs-tools",
  pigz: "pigz",
  zstd: "zstd",
  xz: "xz-utils",
  bzip2: "bzip2",
  gzip: "gzip",
  sha256sum: "coreutils",
  getfattr: "attr",
  setcap: "libcap2-bin",
  debootstrap: "debootstrap",
  "qemu-system-x86_64": "qemu-system-x86",
  busybox: "busybox-static",
  rsync: "rsync",
  rpm: "rpm",
  rpmbuild: "rpm",
  createrepo_c: "createrepo-c",
  dnf: "dnf",
  zypper: "zypper",
  // genimage: proc/sys/dev mounts in the image, depmod when an image lacks modules.dep.
  mount: "mount",
  depmod: "kmod",
};

async function run(argv: string[], env?: Record<string, string>): Promise<number> {
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    env,
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  return (await child.status).code;
}

function onPath(program: string): boolean {
  return (Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":").some((dir) =>
    existsSync(`${dir}/${program}`)
  );
}

const missing = [
  ...new Set(
    Object.entries(TEST_PACKAGES).filter(([program]) => !onPath(program)).map(([, pkg]) => pkg),
  ),
];
if (missing.length > 0) {
  if (Deno.uid() === 0) {
    console.error(`Installing test tools: ${missing.join(" ")}`);
    const env = { DEBIAN_FRONTEND: "noninteractive" };
    if (await run(["apt-get", "update", "-qq"], env) !== 0) Deno.exit(1);
    if (await run(["apt-get", "install", "-y", "-qq", ...missing], env) !== 0) Deno.exit(1);
  } else {
    console.error(
      `The tests need these Debian packages: ${missing.join(" ")}\n` +
        `Install them (sudo apt-get install ${missing.join(" ")}) or run this as root.`,
    );
    Deno.exit(1);
  }
}

const report = `${Deno.cwd()}/.test-report.xml`;
const status = await run([
  Deno.execPath(),
  "test",
  "-A",
  "--parallel",
  "--reporter=dot",
  `--junit-path=${report}`,
  ...Deno.args,
]);
let passed = 0;
let failed = 0;
try {
  const xml = await Deno.readTextFile(report);
  for (const match of xml.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const body = match[2] ?? "";
    if (/<failure\b|<error\b/.test(body)) failed++;
    else if (!/<skipped\b/.test(body)) passed++;
  }
} catch (error) {
  console.error(`Cannot read the test report ${report}: ${(error as Error).message}`);
  failed++;
}
if (status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(status === 0 && failed === 0 ? 0 : 1);
