// manifest.xml of an image bundle: XML::Simple-compatible parsing (XMLin) and byte-exact writing (XMLout).

import { XMLParser, XMLValidator } from "fast-xml-parser";
import { IntegrityError, InvalidInputError } from "../../core/errors.ts";

/**
 * A value as XML::Simple's XMLin returns it with default options: an element's text, a hash of
 * its children, or an array when the element occurs more than once.
 */
export type XmlSimpleValue = string | XmlSimpleHash | XmlSimpleValue[];
/** An element with children (or attributes), keyed by child name. */
export interface XmlSimpleHash {
  [name: string]: XmlSimpleValue;
}

/** One table row as a manifest carries it: column -> non-empty text. */
export type ManifestRow = Record<string, string>;

/** One `-e src[:dest]` of the exporting command line. */
export interface ManifestExtra {
  src: string;
  dest: string;
}

/** The tables a manifest may carry kit rows for, by their manifest element name. */
export const KIT_ELEMENTS = ["kit", "kitrepo", "kitcomp"] as const;
export type KitElement = typeof KIT_ELEMENTS[number];

/** The key column of each kit element's table (`kitcomp` is the `kitcomponent` table). */
export const KIT_KEY_COLUMN: Readonly<Record<KitElement, string>> = {
  kit: "kitname",
  kitrepo: "kitreponame",
  kitcomp: "kitcompname",
};

/** The structured content of a manifest.xml (xCAT 2.8+ nested form; §2.3 of the reference). */
export interface Manifest {
  osimage: ManifestRow;
  linuximage: ManifestRow;
  /** "required" on install images: the target must have run copycds. */
  media?: string;
  /** Absolute management-node paths; each may be a comma-separated list as in xCAT. */
  kernel?: string;
  ramdisk?: string;
  rootimg?: string;
  rootimgtree?: string;
  litefile?: string;
  /** s390x raw image files (absolute paths). */
  rawimagefiles?: string[];
  extra: ManifestExtra[];
  /** `imgexport -p` lists (xcatdefaults + node), only applied by `imgimport -p`. */
  postscripts?: string;
  postbootscripts?: string;
  /** Kit rows keyed by their name (kit name, kit repo name, kit component name). */
  kit: Record<string, ManifestRow>;
  kitrepo: Record<string, ManifestRow>;
  kitcomp: Record<string, ManifestRow>;
}

/** A parsed manifest plus what the reader noticed about its form. */
export interface ParsedManifest extends Manifest {
  /** "flat" for xCAT <= 2.7 manifests (converted by the §2.4 adapter), else "nested". */
  format: "nested" | "flat";
  /** Top-level element names imgimport ignores (e.g. 2.7's `osdistro`), sorted. */
  ignored: string[];
}

/**
 * The columns of the osimage and linuximage tables, which the flat (<= 2.7) manifest adapter
 * sorts top-level elements into. The caller passes its schema's (core/store/schema.ts
 * MANIFEST_COLUMNS) so this format depends on no table definitions.
 */
export interface ManifestColumns {
  osimage: readonly string[];
  linuximage: readonly string[];
}

/** Options of {@linkcode parseManifest}. */
export interface ParseManifestOptions {
  /**
   * xCAT's adapter moves a flat manifest's top-level `postscripts`/`postbootscripts` (the -p
   * lists) into the osimage row, because they are osimage columns. True (the default) keeps that
   * quirk; false leaves them as the -p lists.
   */
  flatPostscriptsToOsimage?: boolean;
}

/** How kit rows are written; see {@linkcode serializeManifest}. */
export type KitEncoding = "by-name" | "native";

/** Options of {@linkcode serializeManifest}. */
export interface SerializeManifestOptions {
  /**
   * "by-name" (default): `<kit><NAME>…columns…</NAME></kit>`, the only form real imgimport reads
   * for a single kit (reference §5.2-1, §8.2); a name that is not a plain XML name falls back to
   * "native" for that element, with a warning. "native": XML::Simple's own unfolding, one
   * `<kit>` per row starting with `<name>` — byte-identical to what xCAT writes.
   */
  kitEncoding?: KitEncoding;
  onWarning?: (message: string) => void;
}

const XML_DECLARATION = '<?xml version="1.0"?>';
const ROOT_NAME = "xcatimage";
/** XML::Simple's default KeyAttr: these children come first when writing and fold arrays when reading. */
const KEY_ATTRIBUTES = ["name", "key", "id"] as const;
/** The fields `verify_manifest` trims (imgport.pm L1715-1749); every other text is kept as is. */
const TRIMMED_FIELDS = ["imagename", "provmethod", "profile", "osvers", "osarch"];
const SCALAR_ELEMENTS = [
  "media",
  "kernel",
  "ramdisk",
  "rootimg",
  "rootimgtree",
  "litefile",
  "postscripts",
  "postbootscripts",
] as const;
const KNOWN_ELEMENTS = new Set<string>([
  "osimage",
  "linuximage",
  "rawimagefiles",
  "extra",
  ...SCALAR_ELEMENTS,
  ...KIT_ELEMENTS,
]);
/** Element names we write from data (kit names in "by-name" form): conservative XML names. */
const PLAIN_XML_NAME = /^(?![Xx][Mm][Ll])[A-Za-z_][A-Za-z0-9._-]*$/;
/** A hostile manifest must not be able to make the parser build something huge. */
const MAX_MANIFEST_CHARS = 16 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// XMLin: generic parsing

/**
 * Parses XML text the way XML::Simple's `XMLin` does with default options: the root element's
 * name is dropped; attributes and child elements both become keys; an element occurring once is
 * its text (or a hash when it has children/attributes), several times an array; arrays of hashes
 * that all carry a scalar `name` (else `key`, else `id`) are folded into a hash keyed by it; text
 * is not trimmed; an empty or whitespace-only leaf becomes `{}`. DOCTYPE/ENTITY declarations are
 * refused outright (no entity expansion of any kind), and only XML's five predefined entities
 * and numeric character references are decoded.
 *
 * @example
 * ```ts
 * xmlIn("<x><a>1</a><a>2</a><b>t</b></x>"); // { a: ["1", "2"], b: "t" }
 * ```
 */
export function xmlIn(text: string): XmlSimpleHash {
  if (text.length > MAX_MANIFEST_CHARS) {
    throw new InvalidInputError(
      `Cannot parse manifest.xml: it is ${text.length} characters long (limit ${MAX_MANIFEST_CHARS})`,
    );
  }
  // Refused before any parser sees the text: entity declarations are the door to XXE and
  // billion-laughs attacks, and no manifest xCAT writes has one.
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) {
    throw new IntegrityError(
      "Cannot parse manifest.xml: no XML entities (the document has a DOCTYPE or ENTITY declaration)",
    );
  }
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const validation = XMLValidator.validate(body);
  if (validation !== true) {
    const { msg, line, col } = validation.err;
    throw new InvalidInputError(
      `Cannot parse manifest.xml: ${msg} (line ${line}, column ${col}). Please verify the XML`,
    );
  }
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "@_",
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    processEntities: false,
    htmlEntities: false,
    cdataPropName: "#cdata",
    commentPropName: false,
    ignoreDeclaration: true,
    ignorePiTags: true,
    isArray: () => true,
  });
  const document = parser.parse(body) as Record<string, unknown>;
  const roots = Object.keys(document).filter((key) => !key.startsWith("?"));
  const rootName = roots[0];
  const root = rootName === undefined ? undefined : document[rootName];
  if (roots.length !== 1 || !Array.isArray(root) || root.length !== 1) {
    throw new InvalidInputError(
      "Cannot parse manifest.xml: it must have exactly one root element. Please verify the XML",
    );
  }
  const value = convertElement(root[0]);
  return typeof value === "string" ? {} : value;
}

/** One fast-xml-parser node (every child wrapped in an array) -> XMLin's value. */
function convertElement(node: unknown): string | XmlSimpleHash {
  if (typeof node === "string") {
    const text = decodeText(node);
    // XMLin turns an empty or whitespace-only leaf into an empty hash.
    return text.trim() === "" ? {} : text;
  }
  const hash: XmlSimpleHash = {};
  let text = "";
  let hasChildren = false;
  for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
    if (key === "#text") {
      text += decodeText(String(value));
    } else if (key === "#cdata") {
      // CDATA text is literal; its position relative to other text is not kept by the parser.
      for (const part of asArray(value)) text += String(extractCdata(part));
    } else if (key.startsWith("@_")) {
      hasChildren = true;
      const attribute = asArray(value)[0];
      hash[key.slice(2)] = decodeText(String(attribute ?? ""));
    } else {
      hasChildren = true;
      const items = asArray(value).map(convertElement);
      hash[key] = items.length === 1 ? items[0]! : foldArray(items);
    }
  }
  if (!hasChildren) return text.trim() === "" ? {} : text;
  // Mixed content: XMLin keeps non-whitespace text under its default ContentKey.
  if (text.trim() !== "") hash.content = text;
  return hash;
}

function extractCdata(part: unknown): string {
  if (typeof part === "string") return part;
  if (part && typeof part === "object" && "#text" in part) {
    return String((part as Record<string, unknown>)["#text"]);
  }
  return "";
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value];
}

/** XMLin's default KeyAttr folding of a repeated element. */
function foldArray(items: (string | XmlSimpleHash)[]): XmlSimpleValue {
  const folded: XmlSimpleHash = {};
  for (const item of items) {
    if (typeof item === "string") return items;
    const keyName = KEY_ATTRIBUTES.find((name) => typeof item[name] === "string");
    if (keyName === undefined) return items;
    const { [keyName]: keyValue, ...rest } = item;
    folded[keyValue as string] = rest;
  }
  return folded;
}

const ENTITY = /&(?:(amp|lt|gt|quot|apos)|#([0-9]+)|#x([0-9a-fA-F]+));|&/g;
const PREDEFINED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** Decodes XML's predefined entities and character references; anything else is an error. */
function decodeText(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(ENTITY, (match, named?: string, decimal?: string, hex?: string) => {
    if (named) return PREDEFINED[named]!;
    const code = decimal !== undefined
      ? Number.parseInt(decimal, 10)
      : hex !== undefined
      ? Number.parseInt(hex, 16)
      : -1;
    if (code < 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) || code === 0) {
      throw new IntegrityError(
        `Cannot parse manifest.xml: no XML entities (found '${
          match === "&" ? text.slice(text.indexOf("&"), text.indexOf("&") + 12) : match
        }')`,
      );
    }
    return String.fromCodePoint(code);
  });
}

// ---------------------------------------------------------------------------------------------
// XMLout: generic writing

/**
 * Writes `data` as XML::Simple's `XMLout(data, RootName => rootName, NoAttr => 1, XMLDecl =>
 * '<?xml version="1.0"?>')` does: declaration line, 2-space indentation, one element per line,
 * keys sorted by code unit except `name`/`key`/`id` first, arrays as repeated siblings, only
 * `& < > "` escaped, trailing newline. Empty strings and empty hashes are left out, as xCAT's
 * table reads never yield them (an empty element would read back as `{}`).
 *
 * @example
 * ```ts
 * xmlOut({ b: "2", a: ["x", "y"] }, "r");
 * // '<?xml version="1.0"?>\n<r>\n  <a>x</a>\n  <a>y</a>\n  <b>2</b>\n</r>\n'
 * ```
 */
export function xmlOut(data: XmlSimpleHash, rootName: string = ROOT_NAME): string {
  const lines = [XML_DECLARATION, `<${checkName(rootName)}>`];
  writeHash(data, "  ", lines);
  lines.push(`</${rootName}>`);
  return lines.join("\n") + "\n";
}

function writeHash(hash: XmlSimpleHash, indent: string, lines: string[]): void {
  for (const key of sortedKeys(hash)) writeValue(key, hash[key]!, indent, lines);
}

function writeValue(key: string, value: XmlSimpleValue, indent: string, lines: string[]): void {
  if (Array.isArray(value)) {
    for (const item of value) writeValue(key, item, indent, lines);
  } else if (typeof value === "string") {
    if (value !== "") lines.push(`${indent}<${checkName(key)}>${escapeText(value)}</${key}>`);
  } else if (Object.values(value).some(hasContent)) {
    lines.push(`${indent}<${checkName(key)}>`);
    writeHash(value, indent + "  ", lines);
    lines.push(`${indent}</${key}>`);
  }
}

function hasContent(value: XmlSimpleValue): boolean {
  if (typeof value === "string") return value !== "";
  if (Array.isArray(value)) return value.some(hasContent);
  return Object.values(value).some(hasContent);
}

/** XML::Simple's sorted_keys: the KeyAttr names that are present first, then the rest sorted. */
function sortedKeys(hash: XmlSimpleHash): string[] {
  const first = KEY_ATTRIBUTES.filter((name) => name in hash);
  const rest = Object.keys(hash).filter((key) =>
    !(KEY_ATTRIBUTES as readonly string[]).includes(key)
  )
    .sort(compareCodeUnits);
  return [...first, ...rest];
}

/** Perl's default `sort` compares strings by code point; JS `<` on strings is close enough for BMP text. */
function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function escapeText(text: string): string {
  return text.replace(
    /[&<>"]/g,
    (char) => char === "&" ? "&amp;" : char === "<" ? "&lt;" : char === ">" ? "&gt;" : "&quot;",
  );
}

function checkName(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9._-]*$/.test(name)) {
    throw new InvalidInputError(`Cannot write manifest.xml: '${name}' is not a valid element name`);
  }
  return name;
}

// ---------------------------------------------------------------------------------------------
// Manifest: the structured view

/**
 * Parses a manifest.xml (xCAT 2.8+ nested, or <= 2.7 flat through xCAT's adapter) into a
 * {@linkcode Manifest}. Lenient where xCAT is (unknown top-level elements are listed in
 * `ignored`; kit rows are accepted in xCAT's native form with one or several entries, without a
 * `name`, or in the element-per-name form), strict where a wrong shape would be misread (a
 * column or path holding elements instead of text is an error). An empty element in a row is
 * read as an empty (absent) column, not as xCAT's stringified `{}`.
 *
 * @example
 * ```ts
 * const manifest = parseManifest(await Deno.readTextFile("manifest.xml"), MANIFEST_COLUMNS);
 * manifest.osimage.provmethod; // "netboot"
 * ```
 */
export function parseManifest(
  text: string,
  columns: ManifestColumns,
  options: ParseManifestOptions = {},
): ParsedManifest {
  const top = xmlIn(text);
  const format = "osimage" in top || "linuximage" in top ? "nested" : "flat";
  if (format === "flat") adaptFlatManifest(top, columns, options);

  const manifest: ParsedManifest = {
    osimage: rowOf(top.osimage, "osimage"),
    linuximage: rowOf(top.linuximage, "linuximage"),
    extra: extrasOf(top.extra),
    kit: kitRowsOf(top.kit, "kit"),
    kitrepo: kitRowsOf(top.kitrepo, "kitrepo"),
    kitcomp: kitRowsOf(top.kitcomp, "kitcomp"),
    format,
    ignored: Object.keys(top).filter((key) => !KNOWN_ELEMENTS.has(key)).sort(compareCodeUnits),
  };
  for (const row of [manifest.osimage, manifest.linuximage]) {
    for (const field of TRIMMED_FIELDS) {
      if (row[field] !== undefined) row[field] = row[field].trim();
    }
  }
  for (const name of SCALAR_ELEMENTS) {
    const value = textOf(top[name], name);
    if (value !== undefined) manifest[name] = value;
  }
  const raw = top.rawimagefiles;
  if (raw !== undefined) {
    if (typeof raw !== "object" || Array.isArray(raw)) {
      throw shapeError("rawimagefiles", "one element with <files> children");
    }
    const files = raw.files === undefined
      ? []
      : (Array.isArray(raw.files) ? raw.files : [raw.files]).map((file) =>
        textOf(file, "rawimagefiles/files") ?? ""
      ).filter((file) => file !== "");
    manifest.rawimagefiles = files;
  }
  return manifest;
}

/** xCAT's manifest_adapter (imgport.pm L1672-1700) for flat <= 2.7 manifests. */
function adaptFlatManifest(
  top: XmlSimpleHash,
  columns: ManifestColumns,
  options: ParseManifestOptions,
): void {
  const keepPostscripts = options.flatPostscriptsToOsimage === false;
  const osimage: XmlSimpleHash = {};
  const linuximage: XmlSimpleHash = {};
  for (const key of Object.keys(top)) {
    if (keepPostscripts && (key === "postscripts" || key === "postbootscripts")) continue;
    let moved = false;
    if (columns.osimage.includes(key)) {
      osimage[key] = top[key]!;
      moved = true;
    }
    if (columns.linuximage.includes(key)) {
      linuximage[key] = top[key]!;
      moved = true;
    }
    if (moved) delete top[key];
  }
  top.osimage = osimage;
  top.linuximage = linuximage;
}

function shapeError(element: string, expected: string): InvalidInputError {
  return new InvalidInputError(
    `Cannot read manifest.xml: <${element}> must be ${expected}. Please verify the XML`,
  );
}

/** Text of a scalar element; an empty element reads as absent. */
function textOf(value: XmlSimpleValue | undefined, element: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string") return value;
  if (!Array.isArray(value) && Object.keys(value).length === 0) return undefined;
  throw shapeError(element, Array.isArray(value) ? "given once" : "text, not elements");
}

function rowOf(value: XmlSimpleValue | undefined, element: string): ManifestRow {
  if (value === undefined) return {};
  if (typeof value === "string" || Array.isArray(value)) {
    throw shapeError(element, "given once, with one child element per column");
  }
  const row: ManifestRow = {};
  for (const [column, cell] of Object.entries(value)) {
    const text = textOf(cell, `${element}><${column}`);
    if (text !== undefined && text !== "") row[column] = text;
  }
  return row;
}

function extrasOf(value: XmlSimpleValue | undefined): ManifestExtra[] {
  if (value === undefined) return [];
  const items = Array.isArray(value) ? value : [value];
  return items.map((item) => {
    if (typeof item !== "object" || Array.isArray(item)) {
      throw shapeError("extra", "elements with <src> and <dest>");
    }
    const src = textOf(item.src, "extra><src");
    const dest = textOf(item.dest, "extra><dest");
    if (src === undefined || dest === undefined) {
      throw shapeError("extra", "elements with both <src> and <dest>");
    }
    return { src, dest };
  });
}

/**
 * Kit rows in any of the forms in circulation (reference §8.1): xCAT's native unfolding folded
 * back by XMLin (a hash of name -> row for >= 2 entries, a bare row with `name` for one), rows
 * without `name` (keyed by their key column), and the element-per-name form (§8.2).
 */
function kitRowsOf(
  value: XmlSimpleValue | undefined,
  element: KitElement,
): Record<string, ManifestRow> {
  const result: Record<string, ManifestRow> = {};
  if (value === undefined) return result;
  const keyColumn = KIT_KEY_COLUMN[element];
  const addRow = (row: XmlSimpleHash, givenName: string | undefined) => {
    const { name: nameCell, ...columns } = row;
    const parsed = rowOf(columns, element);
    const name = givenName ?? textOf(nameCell, `${element}><name`) ?? parsed[keyColumn];
    if (!name) throw shapeError(element, `rows with a <name> or <${keyColumn}>`);
    result[name] = parsed;
  };
  const items = Array.isArray(value) ? value : [value];
  for (const item of items) {
    if (typeof item === "string" || Array.isArray(item)) {
      throw shapeError(element, "elements with one child per column");
    }
    const values = Object.values(item);
    const isMap = values.length > 0 &&
      values.every((cell) => typeof cell === "object" && !Array.isArray(cell));
    if (isMap && !Array.isArray(value)) {
      for (const [name, row] of Object.entries(item)) addRow(row as XmlSimpleHash, name);
    } else {
      addRow(item, undefined);
    }
  }
  return result;
}

/**
 * Writes `manifest` byte for byte as xCAT's imgexport (XML::Simple) would: see
 * {@linkcode xmlOut}. Empty columns are omitted; kit rows are encoded per
 * `options.kitEncoding`.
 *
 * @example
 * ```ts
 * serializeManifest({ osimage: { imagename: "i" }, linuximage: { imagename: "i" }, extra: [],
 *   kit: {}, kitrepo: {}, kitcomp: {} });
 * ```
 */
export function serializeManifest(
  manifest: Manifest,
  options: SerializeManifestOptions = {},
): string {
  const top: XmlSimpleHash = {
    osimage: { ...manifest.osimage },
    linuximage: { ...manifest.linuximage },
  };
  for (const name of SCALAR_ELEMENTS) {
    const value = manifest[name];
    if (value !== undefined && value !== "") top[name] = value;
  }
  if (manifest.rawimagefiles && manifest.rawimagefiles.length > 0) {
    top.rawimagefiles = { files: [...manifest.rawimagefiles] };
  }
  if (manifest.extra.length > 0) {
    top.extra = manifest.extra.map(({ src, dest }) => ({ src, dest }));
  }
  for (const element of KIT_ELEMENTS) {
    const rows = manifest[element];
    const names = Object.keys(rows).sort(compareCodeUnits);
    if (names.length === 0) continue;
    let encoding = options.kitEncoding ?? "by-name";
    if (encoding === "by-name") {
      const bad = names.find((name) => !PLAIN_XML_NAME.test(name));
      if (bad !== undefined) {
        options.onWarning?.(
          `The ${element} name '${bad}' is not a valid XML element name; writing <${element}> ` +
            "rows in xCAT's native form, which real xCAT imports only when there are two or more",
        );
        encoding = "native";
      }
    }
    if (encoding === "by-name") {
      const byName: XmlSimpleHash = {};
      for (const name of names) byName[name] = { ...rows[name] };
      top[element] = byName;
    } else {
      // XML::Simple unfolds a hash of hashes in the order of its sorted keys, name first.
      top[element] = names.map((name) => ({ name, ...rows[name] }));
    }
  }
  return xmlOut(top, ROOT_NAME);
}
