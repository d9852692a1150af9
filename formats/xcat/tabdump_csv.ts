// xCAT's tabdump/tabrestore CSV dialect: `#col,...` header, quoted values, bare empty fields.

/** A parsed table dump: the header's column names and the rows (empty fields omitted). */
export interface TableDump {
  columns: string[];
  rows: Record<string, string>[];
}

/** Raised for malformed CSV, with the 1-based line number. */
export class CsvSyntaxError extends Error {
  constructor(readonly line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = "CsvSyntaxError";
  }
}

/**
 * Serializes rows as tabdump prints them: a defined value as `"value"` with inner quotes
 * doubled, an empty one as a bare field, the trailing comma of the last field dropped.
 *
 * @example
 * ```ts
 * serializeTableDump(["key", "value", "comments", "disable"], [{ key: "a", value: "1" }]);
 * // '#key,value,comments,disable\n"a","1",,\n'
 * ```
 */
export function serializeTableDump(
  columns: readonly string[],
  rows: readonly Readonly<Record<string, string | undefined>>[],
): string {
  const lines = [`#${columns.join(",")}`];
  for (const row of rows) {
    lines.push(
      columns.map((column) => {
        const value = row[column];
        return value === undefined || value === "" ? "" : `"${value.replaceAll('"', '""')}"`;
      }).join(","),
    );
  }
  return lines.join("\n") + "\n";
}

/** Splits one CSV record (which may span lines inside quotes) starting at `start`. */
function readRecord(
  text: string,
  start: number,
  lineNo: number,
): { fields: (string | undefined)[]; next: number; lines: number } {
  const fields: (string | undefined)[] = [];
  let index = start;
  let lines = 1;
  for (;;) {
    if (text[index] === '"') {
      let value = "";
      index++;
      for (;;) {
        if (index >= text.length) throw new CsvSyntaxError(lineNo, "unterminated quoted value");
        const char = text[index]!;
        if (char === '"') {
          if (text[index + 1] === '"') {
            value += '"';
            index += 2;
            continue;
          }
          index++;
          break;
        }
        if (char === "\n") lines++;
        value += char;
        index++;
      }
      fields.push(value);
    } else {
      let end = index;
      while (end < text.length && text[end] !== "," && text[end] !== "\n" && text[end] !== "\r") {
        end++;
      }
      const raw = text.slice(index, end).trim();
      if (raw.includes('"')) throw new CsvSyntaxError(lineNo, `stray quote in field '${raw}'`);
      fields.push(raw === "" ? undefined : raw);
      index = end;
    }
    if (text[index] === "\r") index++;
    if (index >= text.length || text[index] === "\n") {
      return { fields, next: index + 1, lines };
    }
    if (text[index] !== ",") {
      throw new CsvSyntaxError(lineNo, `expected ',' after a quoted value`);
    }
    index++;
  }
}

/**
 * Parses a tabdump CSV file. The header must start with `#`; quotes around header names are
 * stripped (tabrestore accepts them). A row with more fields than the header is an error; a row
 * with fewer (the dropped trailing comma) is padded.
 */
export function parseTableDump(text: string): TableDump {
  let index = 0;
  let lineNo = 1;
  // Skip leading blank lines.
  while (index < text.length && (text[index] === "\n" || text[index] === "\r")) {
    if (text[index] === "\n") lineNo++;
    index++;
  }
  if (text[index] !== "#") {
    throw new CsvSyntaxError(lineNo, "the first line must be a header starting with '#'");
  }
  const headerEnd = text.indexOf("\n", index);
  const headerLine = text.slice(index + 1, headerEnd === -1 ? text.length : headerEnd).replace(
    /\r$/,
    "",
  );
  const columns = headerLine.split(",").map((name) => name.trim().replace(/^"(.*)"$/, "$1"));
  if (columns.some((name) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))) {
    throw new CsvSyntaxError(lineNo, `malformed header '#${headerLine}'`);
  }
  index = headerEnd === -1 ? text.length : headerEnd + 1;
  lineNo++;
  const rows: Record<string, string>[] = [];
  while (index < text.length) {
    if (text[index] === "\n" || (text[index] === "\r" && text[index + 1] === "\n")) {
      index += text[index] === "\r" ? 2 : 1;
      lineNo++;
      continue;
    }
    const { fields, next, lines } = readRecord(text, index, lineNo);
    if (fields.length > columns.length) {
      throw new CsvSyntaxError(
        lineNo,
        `${fields.length} fields where the header has ${columns.length} columns`,
      );
    }
    const row: Record<string, string> = {};
    fields.forEach((value, position) => {
      if (value !== undefined && value !== "") row[columns[position]!] = value;
    });
    rows.push(row);
    index = next;
    lineNo += lines;
  }
  return { columns, rows };
}
