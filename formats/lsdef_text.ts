// lsdef's text output: the long `Object name:` form, the name list and the -c form.

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
