import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { facingAddress, isIpv4 } from "./network.ts";

Deno.test("facingAddress picks this machine's address on the node's network", () => {
  const local = [{ address: "192.168.1.5", prefix: 24 }, { address: "10.0.0.1", prefix: 16 }];
  assertEquals(facingAddress(local, "10.0.200.7"), "10.0.0.1");
  assertEquals(facingAddress(local, "192.168.1.200"), "192.168.1.5");
  assertEquals(facingAddress(local, "172.16.0.1"), undefined);
});

Deno.test("isIpv4 accepts dotted quads only", () => {
  assertEquals(["10.0.0.1", "255.255.255.255"].map(isIpv4), [true, true]);
  assertEquals(["10.0.0", "10.0.0.256", "mn01", "1.2.3.4.5", ""].map(isIpv4), [
    false,
    false,
    false,
    false,
    false,
  ]);
});
