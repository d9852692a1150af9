// ELF program headers: what a dynamically linked program needs to run (interpreter, DT_NEEDED).

import { InvalidInputError } from "../../core/errors.ts";

/** What the dynamic loader needs for a program: none of it for a static one. */
export interface ElfDependencies {
  /** PT_INTERP: the dynamic loader's absolute path ("/lib64/ld-linux-x86-64.so.2"). */
  interpreter?: string;
  /** DT_NEEDED sonames in the order the program lists them ("libc.so.6"). */
  needed: string[];
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;

interface ProgramHeader {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
}

/**
 * Reads the interpreter and the needed libraries of an ELF file (32- or 64-bit, either byte
 * order). A file that is not ELF, or whose headers point outside it, is an InvalidInputError
 * naming `what`.
 *
 * @example
 * ```ts
 * elfDependencies(Deno.readFileSync("/usr/bin/zstd"), "/usr/bin/zstd").needed; // ["libzstd.so.1", ...]
 * ```
 */
export function elfDependencies(bytes: Uint8Array, what: string): ElfDependencies {
  const bad = (why: string) => new InvalidInputError(`${what} is not a usable ELF file: ${why}`);
  if (
    bytes.byteLength < 52 || bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c ||
    bytes[3] !== 0x46
  ) {
    throw bad("no ELF magic");
  }
  const wide = bytes[4] === 2;
  if (!wide && bytes[4] !== 1) throw bad(`unknown ELF class ${bytes[4]}`);
  const little = bytes[5] === 1;
  if (!little && bytes[5] !== 2) throw bad(`unknown byte order ${bytes[5]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const inside = (offset: number, length: number) =>
    offset >= 0 && length >= 0 && offset + length <= bytes.byteLength;
  const word = (offset: number): number => {
    if (!inside(offset, wide ? 8 : 4)) throw bad(`a header field at ${offset} is past the end`);
    return wide ? Number(view.getBigUint64(offset, little)) : view.getUint32(offset, little);
  };
  const half = (offset: number) => view.getUint16(offset, little);

  const phoff = word(wide ? 0x20 : 0x1c);
  const phentsize = half(wide ? 0x36 : 0x2a);
  const phnum = half(wide ? 0x38 : 0x2c);
  const headers: ProgramHeader[] = [];
  for (let index = 0; index < phnum; index++) {
    const at = phoff + index * phentsize;
    if (!inside(at, wide ? 56 : 32)) throw bad(`program header ${index} is past the end`);
    headers.push(
      wide
        ? {
          type: view.getUint32(at, little),
          offset: word(at + 8),
          vaddr: word(at + 16),
          filesz: word(at + 32),
        }
        : {
          type: view.getUint32(at, little),
          offset: word(at + 4),
          vaddr: word(at + 8),
          filesz: word(at + 16),
        },
    );
  }

  const cString = (offset: number): string => {
    let end = offset;
    while (end < bytes.byteLength && bytes[end] !== 0) end++;
    if (end >= bytes.byteLength) throw bad(`a string at ${offset} does not end`);
    return new TextDecoder().decode(bytes.subarray(offset, end));
  };

  const result: ElfDependencies = { needed: [] };
  const interp = headers.find((header) => header.type === PT_INTERP);
  if (interp) {
    if (!inside(interp.offset, interp.filesz)) throw bad("PT_INTERP is past the end");
    result.interpreter = cString(interp.offset);
  }
  const dynamic = headers.find((header) => header.type === PT_DYNAMIC);
  if (!dynamic) return result;
  if (!inside(dynamic.offset, dynamic.filesz)) throw bad("PT_DYNAMIC is past the end");

  // DT_STRTAB holds a virtual address: the PT_LOAD segment containing it maps it to the file.
  const entrySize = wide ? 16 : 8;
  const tags: Array<[bigint, number]> = [];
  for (
    let at = dynamic.offset;
    at + entrySize <= dynamic.offset + dynamic.filesz;
    at += entrySize
  ) {
    const tag = wide ? view.getBigInt64(at, little) : BigInt(view.getInt32(at, little));
    if (tag === DT_NULL) break;
    tags.push([tag, word(at + (wide ? 8 : 4))]);
  }
  const strtabAddress = tags.find(([tag]) => tag === DT_STRTAB)?.[1];
  const neededOffsets = tags.filter(([tag]) => tag === DT_NEEDED).map(([, value]) => value);
  if (neededOffsets.length === 0) return result;
  if (strtabAddress === undefined) throw bad("DT_NEEDED without DT_STRTAB");
  const load = headers.find((header) =>
    header.type === PT_LOAD && strtabAddress >= header.vaddr &&
    strtabAddress < header.vaddr + header.filesz
  );
  if (!load) throw bad("DT_STRTAB is in no loaded segment");
  const strtab = load.offset + (strtabAddress - load.vaddr);
  result.needed = neededOffsets.map((offset) => cString(strtab + offset));
  return result;
}
