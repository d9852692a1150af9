// TFTP packets (RFC 1350, options RFC 2347): decode and encode, pure.

import { InvalidInputError } from "../../core/errors.ts";

/** The opcodes of RFC 1350 and OACK of RFC 2347. */
export const Opcode = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

/** Error codes of RFC 1350 §5, and 8 from RFC 2347 (option negotiation refused). */
export const TftpErrorCode = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TRANSFER_ID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;

/** A decoded TFTP packet. Option names are lower-cased (RFC 2347: case-insensitive). */
export type TftpPacket =
  | {
    op: "RRQ" | "WRQ";
    filename: string;
    mode: string;
    options: Map<string, string>;
  }
  | { op: "DATA"; block: number; data: Uint8Array }
  | { op: "ACK"; block: number }
  | { op: "ERROR"; code: number; message: string }
  | { op: "OACK"; options: Map<string, string> };

/** Strings of a request are netascii; latin1 keeps every byte as one character. */
const latin1 = new TextDecoder("latin1");

function strings(bytes: Uint8Array, from: number): string[] {
  const body = bytes.subarray(from);
  if (body.length === 0 || body[body.length - 1] !== 0) {
    throw new InvalidInputError("TFTP packet: strings are not NUL-terminated");
  }
  return latin1.decode(body.subarray(0, body.length - 1)).split("\0");
}

function optionMap(pairs: string[]): Map<string, string> {
  if (pairs.length % 2 !== 0) throw new InvalidInputError("TFTP packet: an option has no value");
  const options = new Map<string, string>();
  for (let index = 0; index < pairs.length; index += 2) {
    options.set(pairs[index]!.toLowerCase(), pairs[index + 1]!);
  }
  return options;
}

/**
 * Decodes one datagram.
 *
 * @example
 * ```ts
 * decodeTftp(encodeAck(1)); // { op: "ACK", block: 1 }
 * ```
 */
export function decodeTftp(bytes: Uint8Array): TftpPacket {
  if (bytes.length < 4) throw new InvalidInputError("TFTP packet: shorter than 4 bytes");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const opcode = view.getUint16(0);
  switch (opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ: {
      const [filename, mode, ...pairs] = strings(bytes, 2);
      if (filename === undefined || mode === undefined || filename === "") {
        throw new InvalidInputError("TFTP packet: a request without a file name or mode");
      }
      return {
        op: opcode === Opcode.RRQ ? "RRQ" : "WRQ",
        filename,
        mode: mode.toLowerCase(),
        options: optionMap(pairs),
      };
    }
    case Opcode.DATA:
      return { op: "DATA", block: view.getUint16(2), data: bytes.subarray(4) };
    case Opcode.ACK:
      return { op: "ACK", block: view.getUint16(2) };
    case Opcode.ERROR: {
      const [message = ""] = bytes.length > 4 ? strings(bytes, 4) : [];
      return { op: "ERROR", code: view.getUint16(2), message };
    }
    case Opcode.OACK:
      return { op: "OACK", options: optionMap(bytes.length > 2 ? strings(bytes, 2) : []) };
    default:
      throw new InvalidInputError(`TFTP packet: unknown opcode ${opcode}`);
  }
}

function withStrings(opcode: number, prefix: number[], texts: string[]): Uint8Array {
  const encoded = texts.map((text) => Uint8Array.from(text, (char) => char.charCodeAt(0) & 0xff));
  const length = 2 + prefix.length * 2 + encoded.reduce((sum, part) => sum + part.length + 1, 0);
  const bytes = new Uint8Array(length);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, opcode);
  let offset = 2;
  for (const value of prefix) {
    view.setUint16(offset, value);
    offset += 2;
  }
  for (const part of encoded) {
    bytes.set(part, offset);
    offset += part.length + 1;
  }
  return bytes;
}

/** A read request (clients, tests). */
export function encodeRequest(
  op: "RRQ" | "WRQ",
  filename: string,
  mode: string,
  options: Record<string, string> = {},
): Uint8Array {
  return withStrings(op === "RRQ" ? Opcode.RRQ : Opcode.WRQ, [], [
    filename,
    mode,
    ...Object.entries(options).flat(),
  ]);
}

/** A DATA packet: the header and the block's bytes, in one buffer. */
export function encodeData(block: number, data: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(4 + data.length);
  const view = new DataView(bytes.buffer);
  view.setUint16(0, Opcode.DATA);
  view.setUint16(2, block & 0xffff);
  bytes.set(data, 4);
  return bytes;
}

/** An ACK of `block` (its low 16 bits). */
export function encodeAck(block: number): Uint8Array {
  return withStrings(Opcode.ACK, [block & 0xffff], []).subarray(0, 4);
}

/** An ERROR packet with its message. */
export function encodeError(code: number, message: string): Uint8Array {
  return withStrings(Opcode.ERROR, [code], [message]);
}

/** An OACK with the options the server accepted, in the order given. */
export function encodeOack(options: ReadonlyMap<string, string>): Uint8Array {
  return withStrings(Opcode.OACK, [], [...options].flat());
}
