import { deepStrictEqual } from "node:assert/strict";
import { parseDnsmasqLeases, parseKeaLeases } from "./dhcp_leases.ts";

Deno.test("parseKeaLeases reads Kea 2.2's memfile CSV by its header and skips declined and expired leases", () => {
  const text =
    "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n" +
    "198.51.100.11,52:54:00:51:64:0b,,43200,1733443200,3328402432,0,0,cn01,0,\n" +
    "198.51.100.12,52:54:00:51:64:0C,01:52:54:00:51:64:0c,43200,1733443201,3328402432,0,0,cn02,0,\n" +
    "198.51.100.13,52:54:00:51:64:0d,,43200,1733443202,3328402432,0,0,,2,\n";
  deepStrictEqual(parseKeaLeases(text), [
    { mac: "52:54:00:51:64:0b", ip: "198.51.100.11" },
    { mac: "52:54:00:51:64:0c", ip: "198.51.100.12" },
  ]);
  deepStrictEqual(parseKeaLeases(""), []);
});

Deno.test("parseDnsmasqLeases reads dnsmasq's leasefile lines and ignores what is not a lease", () => {
  deepStrictEqual(
    parseDnsmasqLeases(
      "1733443200 52:54:00:51:64:0b 198.51.100.11 cn01 *\nduid 00:01\n\n" +
        "1733443201 52:54:00:51:64:0c 198.51.100.12 * 01:52:54:00:51:64:0c\n",
    ),
    [
      { mac: "52:54:00:51:64:0b", ip: "198.51.100.11" },
      { mac: "52:54:00:51:64:0c", ip: "198.51.100.12" },
    ],
  );
});
