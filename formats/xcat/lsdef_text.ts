// lsdef's output: the long `Object name:` form, the name list, the -c form, stanzas and JSON.

import { serializeStanzas } from "./stanza.ts";

/** An object as lsdef prints it. */
export interface ListedObject {
  name: string;
  type: string;
  attributes: Readonly<Record<string, string>>;
}

function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The long form: `Object name: <name>` then four-space `attr=value` lines sorted by attribute.
 * `only` lists attributes to print even when empty (-i); `showType` adds `  (<type>)` to the
 * header as xCAT does when several types are listed.
 *
 * @example
 * ```ts
 * formatLong([{ name: "img", type: "osimage", attributes: { provmethod: "netboot" } }]);
 * // "Object name: img\n    provmethod=netboot\n"
 * ```
 */
export function formatLong(
  objects: readonly ListedObject[],
  options: { only?: readonly string[]; showType?: boolean } = {},
): string {
  const lines: string[] = [];
  for (const object of objects) {
    lines.push(`Object name: ${object.name}${options.showType ? `  (${object.type})` : ""}`);
    const names = options.only
      ? [...options.only].sort(byteOrder)
      : Object.keys(object.attributes).sort(byteOrder);
    for (const name of names) {
      const value = object.attributes[name];
      if (value === undefined && !options.only) continue;
      lines.push(`    ${name}=${value ?? ""}`);
    }
  }
  return lines.length > 0 ? lines.join("\n") + "\n" : "";
}

/** The name list: `<name>  (<type>)` (two spaces), or one space with `-a`. */
export function formatNames(objects: readonly ListedObject[], oneSpace = false): string {
  const gap = oneSpace ? " " : "  ";
  return objects.map((object) => `${object.name}${gap}(${object.type})\n`).join("");
}

/** The -c form: `<name>: attr=value` lines for the requested attributes. */
export function formatCompressed(
  objects: readonly ListedObject[],
  only: readonly string[],
): string {
  const lines: string[] = [];
  for (const object of objects) {
    for (const name of [...only].sort(byteOrder)) {
      lines.push(`${object.name}: ${name}=${object.attributes[name] ?? ""}`);
    }
  }
  return lines.length > 0 ? lines.join("\n") + "\n" : "";
}

/** What lsdef prints, decided (core/definitions/definition_listing.ts) and not yet formatted. */
export interface LsdefListing {
  form: "json" | "stanza" | "names" | "compressed" | "long";
  objects: readonly ListedObject[];
  /** -i: only these attributes, printed even when empty. */
  only?: readonly string[];
  /** Several types are listed: the long form names each object's type. */
  showType: boolean;
  /** -a: the name list puts one space before the type, not two (xCAT's quirk). */
  allTypes: boolean;
}

/**
 * lsdef's whole output for `listing`; an empty listing is xCAT's "Could not find" line, except
 * in JSON (an empty array).
 *
 * @example
 * ```ts
 * formatLsdefListing({ form: "names", objects: [], showType: false, allTypes: false });
 * // "Could not find any object definitions to display.\n"
 * ```
 */
export function formatLsdefListing(listing: LsdefListing): string {
  const { objects, only } = listing;
  const shown = (object: ListedObject): ListedObject =>
    only
      ? {
        ...object,
        attributes: Object.fromEntries(only.map((name) => [name, object.attributes[name] ?? ""])),
      }
      : object;
  if (listing.form === "json") return JSON.stringify(objects.map(shown), null, 2) + "\n";
  if (objects.length === 0) return "Could not find any object definitions to display.\n";
  switch (listing.form) {
    case "stanza":
      return serializeStanzas(objects.map(shown));
    case "names":
      return formatNames(objects, listing.allTypes);
    case "compressed":
      return formatCompressed(objects, only ?? []);
    case "long":
      return formatLong(objects, { only, showType: listing.showType });
  }
}
