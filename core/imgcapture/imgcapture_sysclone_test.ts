// imgcapture -t sysclone against a real golden client installed on a real partitioned disk (a
// loop device: ESP, /boot, swap, root). HEAVY: run alone,
// `flock /work/wt/heavy.lock deno test -A core/imgcapture/imgcapture_sysclone_test.ts`.

import { deepStrictEqual as assertEquals, ok, strictEqual } from "node:assert/strict";
import { existsSync } from "node:fs";
import { type DiskGoldenClient, diskGoldenClient } from "../../testdata/support/golden_client.ts";
import {
  CAPTURE_REWRITTEN,
  captureMismatches,
  defineGolden,
  rsyncPids,
  syscloneCaptureArgs,
  treeSummary,
  waitFor,
} from "../../testdata/support/capture_testing.ts";
import { run, sh } from "../../testdata/support/process.ts";
import { heavyTest } from "../../testdata/support/heavy.ts";
import { snapshotTree, type TestRoot, testRoot } from "../../testdata/support/testing.ts";
import { GPT_TYPES, parseDiskLayout } from "../../formats/sysclone/disk_layout.ts";
import { loopDisk } from "../../testdata/support/sysclone_testing.ts";

const IMAGE = "gold-sysclone";
const REPOSITORY = `/install/sysclone/images/${IMAGE}`;
const LAYOUT = `${REPOSITORY}.layout.json`;
const MIB = 1024 ** 2;
const KNOWN_HOSTS = "/etc/xcat/osimg/ssh_known_hosts";

/** What a sysclone capture rewrites: the diskless set but fstab (kept for the record). */
const SYSCLONE_REWRITTEN = new Set([...CAPTURE_REWRITTEN].filter((path) => path !== "etc/fstab"));

function capture(t: TestRoot, client: DiskGoldenClient, extra: string[] = []) {
  return t.run([...syscloneCaptureArgs(IMAGE, client.privateKey), ...extra]);
}

async function captureOk(t: TestRoot, client: DiskGoldenClient, extra: string[] = []) {
  const started = performance.now();
  const result = await capture(t, client, extra);
  strictEqual(result.status, 0, `imgcapture failed:\n${result.stdout}\n${result.stderr}`);
  console.log(`sysclone capture: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

/** The client's mounted file systems (/, /boot) as one summary, as the image holds them. */
async function clientSummary(client: DiskGoldenClient): Promise<Map<string, string>> {
  return new Map([
    ...await treeSummary(client.root),
    ...await treeSummary(`${client.root}/boot`, "boot/"),
  ].map(([path, summary]) => [path.replace(/\/\.$/, ""), summary]));
}

/** The repository as one summary, hard links into other mounts' paths compared alike. */
async function repositorySummary(t: TestRoot): Promise<Map<string, string>> {
  return await treeSummary(`${t.root}${REPOSITORY}`);
}

/** The repository, layout file, known_hosts and definitions, for "nothing changed". */
async function imageState(t: TestRoot): Promise<string[]> {
  const sysclone = `${t.root}/install/sysclone`;
  return [
    ...(existsSync(sysclone) ? await snapshotTree(sysclone) : ["(no sysclone directory)"]),
    `known_hosts ${await Deno.readTextFile(`${t.root}${KNOWN_HOSTS}`).catch(() => "(none)")}`,
    `staging ${existsSync(`${t.root}/install/.osimg-staging`)}`,
    (await t.ok(["tabdump", "osimage"])).stdout,
    (await t.ok(["tabdump", "linuximage"])).stdout,
  ];
}

/** blkid's value of `tag` on a partition of the client's disk. */
async function blkid(client: DiskGoldenClient, number: number, tag: string): Promise<string> {
  return (await sh(["blkid", "-p", "-s", tag, "-o", "value", client.partition(number)])).trim();
}

heavyTest(
  "imgcapture -t sysclone of a golden client on a partitioned disk: the layout file records the disk, the repository holds every file system's files, a recapture moves only the change",
  async (t) => {
    const client = await diskGoldenClient();
    await using osimg = await testRoot();
    await defineGolden(osimg, client.address);
    // A file on the separate /boot.
    await Deno.writeTextFile(`${client.root}/boot/osimg-note`, "before\n");
    await Deno.writeTextFile(`${client.root}/opt/osimg-removed`, "removed before the recapture\n");
    const repository = `${osimg.root}${REPOSITORY}`;

    await t.step("the first capture: layout, files, scrubs, definition", async () => {
      const { stdout, stderr } = await captureOk(osimg, client);
      const layout = parseDiskLayout(
        await Deno.readTextFile(`${osimg.root}${LAYOUT}`),
        "captured",
      );
      strictEqual(layout.disks.length, 1);
      const disk = layout.disks[0]!;
      strictEqual(disk.name, client.device.replace("/dev/", ""));
      strictEqual(disk.table, "gpt");
      strictEqual(disk.size, 2 * 1024 * MIB);
      assertEquals(disk.volumeGroups, []);
      assertEquals(
        disk.partitions.map((part) => [part.number, part.type, part.name, part.flags]),
        [
          [1, GPT_TYPES.biosBoot, "bios", ["bios_grub"]],
          [2, GPT_TYPES.esp, "EFI", ["esp"]],
          [3, GPT_TYPES.linux, "boot", []],
          [4, GPT_TYPES.swap, "swap", []],
          [5, GPT_TYPES.linux, "root", []],
        ],
      );
      assertEquals(disk.partitions.slice(0, 4).map((part) => part.size / MIB), [1, 64, 160, 32]);
      strictEqual(disk.partitions[0]!.filesystem, undefined);
      assertEquals(disk.partitions[1]!.filesystem, {
        type: "vfat",
        label: "EFI",
        uuid: await blkid(client, 2, "UUID"),
        mountpoint: "/boot/efi",
        options: "umask=0077",
        dump: 0,
        pass: 1,
      });
      assertEquals(disk.partitions[2]!.filesystem, {
        type: "ext4",
        label: "boot",
        uuid: await blkid(client, 3, "UUID"),
        mountpoint: "/boot",
        options: "defaults",
        dump: 0,
        pass: 2,
      });
      assertEquals(disk.partitions[3]!.filesystem, {
        type: "swap",
        label: "swap",
        uuid: await blkid(client, 4, "UUID"),
        options: "sw",
        dump: 0,
        pass: 0,
      });
      const root = disk.partitions[4]!;
      assertEquals(root.filesystem, {
        type: "ext4",
        label: "root",
        uuid: await blkid(client, 5, "UUID"),
        mountpoint: "/",
        options: "errors=remount-ro",
        dump: 0,
        pass: 1,
      });
      strictEqual(root.grow, true);
      // The smallest root a clone needs: what the client's root holds, with room to spare,
      // below the golden partition's size.
      const used = Number(
        (await sh(["df", "-B1", "--output=used", client.root])).trim().split("\n")[1],
      );
      ok(root.minSize! > used && root.minSize! < root.size, `${root.minSize} ${used}`);

      // The repository: every file system's files, minus what is left out or rewritten.
      const source = await clientSummary(client);
      assertEquals(
        captureMismatches(source, await repositorySummary(osimg), SYSCLONE_REWRITTEN),
        [],
      );
      ok(source.has("boot/osimg-note"));
      ok([...source.keys()].some((path) => /^boot\/vmlinuz-/.test(path)));
      strictEqual(await Deno.readTextFile(`${repository}/etc/machine-id`), "");
      strictEqual(await Deno.readTextFile(`${repository}/etc/hostname`), "");
      ok(/^root:\*:/m.test(await Deno.readTextFile(`${repository}/etc/shadow`)));
      strictEqual(
        await Deno.readTextFile(`${repository}/etc/fstab`),
        await Deno.readTextFile(`${client.root}/etc/fstab`),
      );
      assertEquals(
        [...Deno.readDirSync(`${repository}/etc/ssh`)].filter((entry) =>
          entry.name.startsWith("ssh_host_")
        ),
        [],
      );
      // -aHAXS --numeric-ids across the mounts: the hard link pair and the sparse file.
      strictEqual(
        (await Deno.stat(`${repository}/opt/tuned/settings.conf`)).ino,
        (await Deno.stat(`${repository}/opt/tuned/settings.link`)).ino,
      );
      ok((await Deno.stat(`${repository}/opt/tuned/sparse.img`)).blocks! * 512 < MIB);

      for (
        const line of [
          "Capturing image on gold...",
          `Disk layout of gold: ${client.device}, gpt, 5 partitions (1: no file system; ` +
          "2: vfat /boot/efi; 3: ext4 /boot; 4: swap; 5: ext4 / (grows))",
          `Transferring the file systems of gold (debian 12, x86_64: /, /boot) into ${REPOSITORY}...`,
          "Scrubbed random-seeds: /var/lib/systemd/random-seed not captured (every node seeds its own)",
          "Scrubbed passwords: /etc/shadow: 1 password hash removed (--keep-passwords keeps them)",
          `The disk layout of gold is in ${LAYOUT}`,
          `The osimage definition for ${IMAGE} was created.`,
          "Done.",
        ]
      ) ok(stdout.includes(`${line}\n`), `missing '${line}' in:\n${stdout}`);
      ok(/^Number of regular files transferred: [\d,]+$/m.test(stdout), stdout);
      ok(!stdout.includes("Generalised /etc/fstab"), stdout);
      ok(
        stderr.includes(
          "gold: /boot/efi (vfat) is in its /etc/fstab but not mounted: the layout records it, " +
            "the image holds none of its files (mount it and capture again to include them).\n",
        ),
        stderr,
      );

      const lsdef = (await osimg.ok(["lsdef", "-t", "osimage", "-o", IMAGE])).stdout;
      for (
        const attribute of [
          "imagetype=linux",
          "provmethod=sysclone",
          "osname=Linux",
          "osvers=debian12",
          "osarch=x86_64",
          "osdistroname=debian12-x86_64",
          "profile=compute",
          `rootimgdir=${REPOSITORY}`,
        ]
      ) ok(lsdef.includes(`    ${attribute}\n`), lsdef);
      ok(!/ (pkglist|template|otherpkglist)=/.test(lsdef), lsdef);
      ok(!existsSync(`${osimg.root}/install/.osimg-staging`));
    });

    await t.step(
      "a recapture after a file added, one changed and one removed transfers only those, into the existing image",
      async () => {
        await Deno.writeTextFile(`${client.root}/srv/osimg-added`, "added\n");
        await Deno.writeTextFile(`${client.root}/boot/osimg-note`, "after the change\n");
        await Deno.remove(`${client.root}/opt/osimg-removed`);
        const { stdout } = await captureOk(osimg, client, ["-V"]);
        ok(
          stdout.includes(
            "(incremental: unchanged files are taken from the current repository)",
          ),
          stdout,
        );
        ok(stdout.includes("\nNumber of regular files transferred: 2\n"), stdout);
        const bytes = "added\n".length + "after the change\n".length;
        ok(stdout.includes(`\nTransferred 2 files (${bytes} bytes) from gold\n`), stdout);
        // -V lists the changed paths as rsync itemizes them.
        ok(/^>f\+{9} srv\/osimg-added$/m.test(stdout), stdout);
        ok(/^>f.s.* boot\/osimg-note$/m.test(stdout), stdout);
        ok(stdout.includes(`Using the existing osimage "${IMAGE}" defined on `), stdout);
        strictEqual(await Deno.readTextFile(`${repository}/srv/osimg-added`), "added\n");
        strictEqual(
          await Deno.readTextFile(`${repository}/boot/osimg-note`),
          "after the change\n",
        );
        ok(!existsSync(`${repository}/opt/osimg-removed`));
        assertEquals(
          captureMismatches(
            await clientSummary(client),
            await repositorySummary(osimg),
            SYSCLONE_REWRITTEN,
          ),
          [],
        );
        // No old tree parked beside it, no hard link left to one.
        assertEquals(
          [...Deno.readDirSync(`${osimg.root}/install/sysclone/images`)].map((e) => e.name).sort(),
          [IMAGE, `${IMAGE}.layout.json`],
        );
        strictEqual((await Deno.stat(`${repository}/etc/passwd`)).nlink, 1);
      },
    );

    await t.step(
      "rsync killed mid-recapture: one clear line, the repository, layout and definitions exactly as they were",
      async () => {
        const before = await imageState(osimg);
        const big = `${client.root}/srv/big.bin`;
        await run(["dd", "if=/dev/urandom", `of=${big}`, "bs=1M", "count=24", "status=none"]);
        await client.throttle("4mbit");
        try {
          const running = capture(osimg, client);
          await waitFor("the transfer of /srv/big.bin", () => {
            const staging = `${osimg.root}/install/.osimg-staging`;
            if (!existsSync(staging)) return false;
            return [...Deno.readDirSync(staging)].some((entry) => {
              const srv = `${staging}/${entry.name}/repository/srv`;
              return existsSync(srv) &&
                [...Deno.readDirSync(srv)].some((file) => file.name.startsWith(".big.bin."));
            });
          });
          const pids = rsyncPids(`${osimg.root}/install/.osimg-staging/`);
          ok(pids.length > 0, "no rsync of ours found");
          for (const pid of pids) Deno.kill(pid, "SIGKILL");
          const result = await running;
          strictEqual(result.status, 1);
          // The one error line (after the warning about the unmounted ESP).
          const lines = result.stderr.trimEnd().split("\n");
          strictEqual(lines.length, 2, result.stderr);
          ok(lines[0]!.startsWith("Warning: gold: /boot/efi (vfat) is in its /etc/fstab"));
          ok(
            /^Error: The transfer from gold was interrupted \(rsync exit \d+.*\); the image was not changed\. Run imgcapture again: it continues from what is in the current repository\.$/
              .test(lines[1]!),
            result.stderr,
          );
        } finally {
          await client.unthrottle();
          await Deno.remove(big);
        }
        assertEquals(await imageState(osimg), before);
      },
    );
  },
);

heavyTest(
  "imgcapture -t sysclone of an unreachable node: one line naming it and ssh's reason, nothing made",
  async () => {
    const client = await diskGoldenClient();
    await using osimg = await testRoot();
    await defineGolden(osimg, client.unusedAddress);
    const before = await imageState(osimg);
    const result = await capture(osimg, client);
    strictEqual(result.status, 1);
    ok(
      new RegExp(
        `^Error: Cannot reach gold \\(${
          client.unusedAddress.replaceAll(".", "\\.")
        }\\) over ssh: .*(No route to host|timed out).*\\. Check that the node is up, that hosts\\.ip is its address and that sshd runs on it\\.\\n$`,
      ).test(result.stderr),
      result.stderr,
    );
    strictEqual(result.stdout, "Capturing image on gold...\n");
    assertEquals(await imageState(osimg), before);
  },
);

heavyTest(
  "imgcapture -t sysclone into an existing sysclone image of another arch: refused after the node is read, nothing changed",
  async () => {
    const client = await diskGoldenClient();
    await using osimg = await testRoot();
    await defineGolden(osimg, client.address);
    await osimg.ok([
      "mkdef",
      "-t",
      "osimage",
      "-o",
      IMAGE,
      "imagetype=linux",
      "provmethod=sysclone",
      "osvers=debian12",
      "osarch=ppc64le",
    ]);
    const before = await imageState(osimg);
    const result = await capture(osimg, client);
    strictEqual(
      result.stderr,
      `Error: The osimage ${IMAGE} is debian12 ppc64le but gold runs debian12 x86_64: ` +
        "capture it into a new image with -o.\n",
    );
    strictEqual(result.status, 1);
    assertEquals(await imageState(osimg), before);
  },
);

heavyTest(
  "imgcapture -t sysclone of a node that mounts a file system of a second disk: refused naming it, nothing made",
  async () => {
    const client = await diskGoldenClient();
    await using osimg = await testRoot();
    await defineGolden(osimg, client.address);
    const work = await Deno.makeTempDir({ prefix: "osimg-second-disk-" });
    const mountpoint = `${client.root}/srv/data`;
    try {
      await using other = await loopDisk(`${work}/data.img`, 64 * MIB, "label: gpt\ntype=L\n");
      await sh(["mkfs.ext4", "-q", "-L", "data", other.partition(1)]);
      const [major, minor] = (await sh(["stat", "-c", "%t %T", other.partition(1)])).trim()
        .split(" ");
      const node = `${client.root}${other.partition(1)}`;
      await sh(["mknod", node, "b", String(parseInt(major!, 16)), String(parseInt(minor!, 16))]);
      await Deno.mkdir(mountpoint);
      // In sshd's own mount namespace (ip netns exec gave it a copy of this one's, which later
      // mounts here need not reach): what the node's sessions see mounted.
      let sshd: number | undefined;
      for (const pid of await client.pids()) {
        const comm = await Deno.readTextFile(`/proc/${pid}/comm`).catch(() => "");
        if (comm.trim() === "sshd") sshd = pid;
      }
      ok(sshd, "no sshd in the client");
      const inClient = (argv: string[]) =>
        sh(["nsenter", `--target=${sshd}`, "--mount", "--", ...argv]);
      await inClient(["mount", other.partition(1), mountpoint]);
      try {
        const before = await imageState(osimg);
        const result = await capture(osimg, client);
        strictEqual(
          result.stderr,
          `Error: The node mounts ${other.partition(1)} at /srv/data, which is not on ` +
            `${client.device} (the disk of /): osimg clones one disk; unmount it or capture a ` +
            "node installed on one disk.\n",
        );
        strictEqual(result.status, 1);
        assertEquals(await imageState(osimg), before);
      } finally {
        await inClient(["umount", mountpoint]);
        await Deno.remove(mountpoint);
        await Deno.remove(node);
      }
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  },
);
