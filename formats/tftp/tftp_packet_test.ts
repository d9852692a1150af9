// Tests of the TFTP packet codec.

import { deepStrictEqual, throws } from "node:assert/strict";
import {
  decodeTftp,
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  encodeRequest,
} from "./tftp_packet.ts";

Deno.test("tftp packets: every kind round-trips; option names are case-insensitive", () => {
  deepStrictEqual(decodeTftp(encodeRequest("RRQ", "xcat/a", "OCTET", { BlkSize: "1024" })), {
    op: "RRQ",
    filename: "xcat/a",
    mode: "octet",
    options: new Map([["blksize", "1024"]]),
  });
  deepStrictEqual(decodeTftp(encodeData(70000, new Uint8Array([1, 2]))), {
    op: "DATA",
    block: 70000 & 0xffff,
    data: new Uint8Array([1, 2]),
  });
  deepStrictEqual(decodeTftp(encodeAck(3)), { op: "ACK", block: 3 });
  deepStrictEqual(decodeTftp(encodeError(1, "File not found")), {
    op: "ERROR",
    code: 1,
    message: "File not found",
  });
  deepStrictEqual(decodeTftp(encodeOack(new Map([["tsize", "9"]]))), {
    op: "OACK",
    options: new Map([["tsize", "9"]]),
  });
});

Deno.test("tftp packets: truncated, unterminated and unknown packets are refused", () => {
  throws(() => decodeTftp(new Uint8Array([0, 1])), /shorter than 4 bytes/);
  throws(() => decodeTftp(new Uint8Array([0, 1, 65, 66])), /NUL-terminated/);
  throws(() => decodeTftp(new Uint8Array([0, 9, 0, 0])), /unknown opcode 9/);
  throws(() => decodeTftp(new Uint8Array([0, 1, 65, 0, 111, 0, 98, 0])), /no value/);
});
