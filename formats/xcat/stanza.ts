// xCAT's object stanza files (`lsdef -z` output, `mkdef -z`/`chdef -z` input): pure parse and serialize.
//
// Output as DBobjectdefs.pm prints it: the header comment, then per object a blank line,
// `<name>:`, `    objtype=<type>` and the attributes sorted. Input follows DBobjUtils.pm
// readFileInput (comments, `default-<type>:` stanzas, quotes, names up to the last colon), but
// where xCAT silently skips a malformed line, this parser stops with the line number: a stanza
// file that is not understood whole must change nothing.

import { InvalidInputError } from "../../core/errors.ts";

/** One object of a stanza file. */
export interface StanzaObject {
  name: string;
  type: string;
  /** Attribute name -> value; `objtype` is not among them. */
  attributes: Record<string, string>;
}

/** The first line xCAT writes, which `mkdef -z` skips as a comment. */
export const STANZA_HEADER = "# <xCAT data object stanza file>";

/** A malformed stanza file, with the 1-based line number of the problem. */
export class StanzaSyntaxError extends InvalidInputError {
  constructor(readonly line: number, problem: string) {
    super(`Malformed stanza input at line ${line}: ${problem}`);
  }
}

function compareAscii(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Serializes objects as `lsdef -z` prints them. Attributes are printed in ASCII order, each as
 * given (callers drop empty ones unless asked to show them). A name, attribute or value holding
 * a line break cannot be written as a stanza and is refused rather than corrupting the file.
 *
 * @example
 * ```ts
 * serializeStanzas([{ name: "cn01", type: "node", attributes: { groups: "all" } }]);
 * // "# <xCAT data object stanza file>\n\ncn01:\n    objtype=node\n    groups=all\n"
 * ```
 */
export function serializeStanzas(objects: readonly StanzaObject[]): string {
  let text = STANZA_HEADER + "\n";
  for (const object of objects) {
    const lines = [`${object.name}:`, `    objtype=${object.type}`];
    for (const name of Object.keys(object.attributes).sort(compareAscii)) {
      if (name === "objtype") continue;
      lines.push(`    ${name}=${object.attributes[name]}`);
    }
    for (const line of lines) {
      if (/[\r\n]/.test(line)) {
        throw new InvalidInputError(
          `Cannot write object '${object.name}' as a stanza: '${
            line.trim().split(/[\r\n]/)[0]
          }...' contains a line break.`,
        );
      }
    }
    text += "\n" + lines.join("\n") + "\n";
  }
  return text;
}

/** Removes one pair of surrounding double quotes, as readFileInput does. */
function unquote(value: string): string {
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"')
    ? value.slice(1, -1)
    : value;
}

interface OpenStanza {
  name: string;
  line: number;
  /** The type of a `default-<type>:` stanza; undefined for an object. */
  defaultsFor?: string;
  type?: string;
  attributes: Record<string, string>;
}

/**
 * Parses a stanza file. Blank lines and `#` comments are skipped; `name:` opens an object (the
 * name is everything before the last colon, so `fd59::/64:` names the network `fd59::/64`);
 * `attr = value` lines set attributes, trimmed and with surrounding double quotes removed.
 * A `default-<type>:` stanza adds defaults that are copied into each later object at the moment
 * its `objtype=<type>` line is read (so lines after `objtype` override them). An object without
 * an `objtype` line takes `defaultType` (and its defaults), or is an error.
 *
 * @example
 * ```ts
 * parseStanzas("default-node:\n  groups=all\ncn01:\n  objtype=node\n  arch=x86_64\n");
 * // [{ name: "cn01", type: "node", attributes: { groups: "all", arch: "x86_64" } }]
 * ```
 */
export function parseStanzas(text: string, defaultType?: string): StanzaObject[] {
  const objects: StanzaObject[] = [];
  const defaults = new Map<string, Record<string, string>>();
  let current: OpenStanza | undefined;

  const close = () => {
    if (!current) return;
    const stanza = current;
    current = undefined;
    if (stanza.defaultsFor !== undefined) {
      defaults.set(stanza.defaultsFor, {
        ...defaults.get(stanza.defaultsFor),
        ...stanza.attributes,
      });
      return;
    }
    let type = stanza.type;
    let attributes = stanza.attributes;
    if (type === undefined) {
      if (!defaultType) {
        throw new StanzaSyntaxError(
          stanza.line,
          `object '${stanza.name}' has no 'objtype=' line (and no default type was given).`,
        );
      }
      type = defaultType;
      attributes = { ...defaults.get(type), ...attributes };
    }
    objects.push({ name: stanza.name, type, attributes });
  };

  const lines = text.split("\n");
  lines.forEach((raw, index) => {
    const lineNumber = index + 1;
    const line = raw.replace(/\r$/, "").trim();
    if (line === "" || line.startsWith("#")) return;
    const equals = line.indexOf("=");
    // An attribute line is `name=value` where the name has no colon; a value may well end in
    // ':' (an IPv6 address), which xCAT's parser mistakes for a header.
    if (equals >= 0 && !line.slice(0, equals).includes(":")) {
      const attribute = line.slice(0, equals).trim();
      const value = unquote(line.slice(equals + 1).trim());
      if (!current) {
        throw new StanzaSyntaxError(
          lineNumber,
          `'${line}' comes before any object header ('name:').`,
        );
      }
      if (attribute === "" || /\s/.test(attribute)) {
        throw new StanzaSyntaxError(lineNumber, `'${line}' is not an 'attr=value' line.`);
      }
      if (attribute === "objtype") {
        if (current.defaultsFor !== undefined) {
          if (value !== current.defaultsFor) {
            throw new StanzaSyntaxError(
              lineNumber,
              `'objtype=${value}' inside the defaults stanza 'default-${current.defaultsFor}:'.`,
            );
          }
          return;
        }
        if (value === "") {
          throw new StanzaSyntaxError(lineNumber, `'objtype=' needs a type.`);
        }
        current.type = value;
        // xCAT copies the defaults when it reads objtype: earlier lines are overridden by them.
        Object.assign(current.attributes, defaults.get(value));
        return;
      }
      current.attributes[attribute] = value;
      return;
    }
    if (line.endsWith(":")) {
      if (equals >= 0) {
        throw new StanzaSyntaxError(lineNumber, `the object header '${line}' contains '='.`);
      }
      const name = line.slice(0, -1).trim();
      if (name === "" || /\s/.test(name)) {
        throw new StanzaSyntaxError(lineNumber, `'${line}' is not a valid object header.`);
      }
      close();
      const defaultsMatch = /^default-(.+)$/.exec(name);
      current = defaultsMatch
        ? { name, line: lineNumber, defaultsFor: defaultsMatch[1]!, attributes: {} }
        : { name, line: lineNumber, attributes: {} };
      return;
    }
    throw new StanzaSyntaxError(
      lineNumber,
      `'${line}' is neither an object header ('name:') nor an 'attr=value' line.`,
    );
  });
  close();
  return objects;
}
