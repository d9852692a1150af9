// Progress reporting for long work: a redrawn line on a terminal, silence otherwise.

/** Reports how far a long job has come. */
export interface Progress {
  /** Advance by `amount` units (bytes or entries). */
  advance(amount: number): void;
  /** Replace the label shown (the current file, the current phase). */
  label(text: string): void;
  /** Finish: clear the line on a terminal. */
  done(): void;
}

export const silentProgress: Progress = {
  advance() {},
  label() {},
  done() {},
};

function humanBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** What a progress counts: bytes (shown with a rate), or items such as packages (shown as counted). */
export type ProgressUnit = "bytes" | "items";

/**
 * A progress line on stderr when it is a terminal, redrawn at most ten times a second;
 * `total` in bytes (or items) when known. Writes nothing when `terminal` is false.
 */
export function terminalProgress(
  write: (text: string) => void,
  terminal: boolean,
  title: string,
  total?: number,
  unit: ProgressUnit = "bytes",
): Progress {
  if (!terminal) return silentProgress;
  let done = 0;
  let current = "";
  let lastDraw = 0;
  const started = Date.now();
  const draw = (force: boolean) => {
    const now = Date.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    const tail = current.length > 40 ? "…" + current.slice(-39) : current;
    if (unit === "items") {
      // Counts a package manager reports come in the label; a rate of packages means little.
      const count = done === 0 ? "" : total ? `${done}/${total} ` : `${done} `;
      write(`\r\x1b[2K${title} ${count}${tail}`);
      return;
    }
    const seconds = Math.max((now - started) / 1000, 0.001);
    const rate = `${humanBytes(done / seconds)}/s`;
    const amount = total ? `${Math.min(100, Math.floor((done / total) * 100))}%` : humanBytes(done);
    write(`\r\x1b[2K${title} ${amount} ${rate} ${tail}`);
  };
  return {
    advance(amount) {
      done += amount;
      draw(false);
    },
    label(text) {
      current = text;
      draw(false);
    },
    done() {
      write("\r\x1b[2K");
    },
  };
}
