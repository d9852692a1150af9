// Ctrl-C and SIGTERM as an AbortSignal: a long verb stops its child, cleans up, then exits.

import { InterruptedError } from "./errors.ts";

const SIGNALS = ["SIGINT", "SIGTERM"] as const;

/**
 * Runs `work` with a signal that SIGINT or SIGTERM aborts (with an InterruptedError naming the
 * signal) instead of ending the process at once: the running program is killed, `work`'s
 * `finally` blocks run (genimage unmounts /proc, /sys and /dev from the image there), and the
 * InterruptedError reaches main.ts, which exits 130 or 143. Further signals while it cleans up
 * are ignored, so cleanup cannot itself be cut short.
 *
 * @example
 * ```ts
 * await withInterruptSignals("genimage", (signal) => genimage(ctx, name, { signal }));
 * ```
 */
export async function withInterruptSignals<T>(
  verb: string,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const listeners = SIGNALS.map((name) => {
    const listener = () => {
      if (controller.signal.aborted) return;
      controller.abort(
        new InterruptedError(name, `${verb} was interrupted (${name}); it cleaned up and stopped.`),
      );
    };
    Deno.addSignalListener(name, listener);
    return { name, listener };
  });
  try {
    const result = await work(controller.signal);
    controller.signal.throwIfAborted();
    return result;
  } catch (error) {
    // A step killed by the abort fails with its own error: the interruption is the story.
    if (controller.signal.aborted) throw controller.signal.reason;
    throw error;
  } finally {
    for (const { name, listener } of listeners) Deno.removeSignalListener(name, listener);
  }
}
