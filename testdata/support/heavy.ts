// Test support: heavy tests (QEMU boots, debootstrap) run one at a time across test processes.

import { tmpdir } from "node:os";

/**
 * The machine-wide lock of heavy tests. `deno task test` runs test files two at a time
 * (--parallel); two software-emulated VMs or a debootstrap beside a VM on a 2-core machine
 * would blow each other's timeouts, so each heavy test holds this flock while it runs.
 */
const LOCK_PATH = `${tmpdir()}/osimg-heavy-tests.lock`;

/** Runs `work` holding the heavy-test lock (waiting for it first; the kernel drops it on exit). */
export async function exclusively<T>(work: () => Promise<T>): Promise<T> {
  const file = await Deno.open(LOCK_PATH, { create: true, write: true });
  try {
    await file.lock(true);
    return await work();
  } finally {
    file.close();
  }
}

/**
 * Deno.test for a heavy test: the same name and body, run while holding the heavy-test lock,
 * so its timeouts measure its own work and not the wait for another VM.
 *
 * @example
 * ```ts
 * heavyTest("QEMU boots the image", async () => { ... });
 * ```
 */
export function heavyTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  Deno.test(name, (t) => exclusively(() => fn(t)));
}
