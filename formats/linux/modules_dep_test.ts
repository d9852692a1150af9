import {
  deepStrictEqual as assertEquals,
  strictEqual,
  throws as assertThrows,
} from "node:assert/strict";
import {
  moduleLoadOrder,
  moduleName,
  parseModulesBuiltin,
  parseModulesDep,
} from "./modules_dep.ts";

const SAMPLE = [
  "kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko",
  "kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko",
  "kernel/net/core/failover.ko:",
  "kernel/fs/overlayfs/overlay.ko:",
  "kernel/drivers/net/ethernet/intel/e1000/e1000.ko:",
  "kernel/fs/fuse/cuse.ko.xz: kernel/fs/fuse/fuse.ko.xz",
  "kernel/fs/fuse/fuse.ko.xz:",
  "",
].join("\n");

Deno.test("moduleName drops .ko and its compression suffix and spells dashes as underscores", () => {
  assertEquals(moduleName("kernel/fs/fuse/cuse.ko.xz"), "cuse");
  assertEquals(moduleName("kernel/drivers/hid/hid-generic.ko.zst"), "hid_generic");
  assertEquals(moduleName("extra/virtio_net.ko"), "virtio_net");
});

Deno.test("moduleLoadOrder puts every dependency before its user, each once", () => {
  const modules = parseModulesDep(SAMPLE);
  assertEquals(moduleLoadOrder(modules, ["virtio-net", "e1000", "cuse", "overlay"]), {
    paths: [
      "kernel/net/core/failover.ko",
      "kernel/drivers/net/net_failover.ko",
      "kernel/drivers/net/virtio_net.ko",
      "kernel/drivers/net/ethernet/intel/e1000/e1000.ko",
      "kernel/fs/fuse/fuse.ko.xz",
      "kernel/fs/fuse/cuse.ko.xz",
      "kernel/fs/overlayfs/overlay.ko",
    ],
    missing: [],
  });
});

Deno.test("moduleLoadOrder reports names that are not modules instead of failing", () => {
  const modules = parseModulesDep(SAMPLE);
  assertEquals(moduleLoadOrder(modules, ["e1000", "af_packet"]), {
    paths: ["kernel/drivers/net/ethernet/intel/e1000/e1000.ko"],
    missing: ["af_packet"],
  });
  strictEqual(parseModulesBuiltin("kernel/net/packet/af_packet.ko\n").has("af_packet"), true);
});

Deno.test("a modules.dep line without a module, or naming an unlisted dependency, is refused", () => {
  assertThrows(() => parseModulesDep("garbage\n"), /modules.dep line 1 has no "module:" part/);
  const modules = parseModulesDep("kernel/a.ko: kernel/gone.ko\n");
  assertThrows(
    () => moduleLoadOrder(modules, ["a"]),
    /kernel\/a.ko needs kernel\/gone.ko, which modules.dep does not list/,
  );
});
