// Test helper process: takes an image's lock as a verb would, says so, and holds it until its
// stdin closes (or it is killed).
import { acquireImageLock } from "../../core/image/image_lock.ts";

const [locksDir, name, verb] = Deno.args;
const lock = await acquireImageLock(locksDir!, name!, verb!);
Deno.stdout.writeSync(new TextEncoder().encode(`locked ${Deno.pid}\n`));
for await (const _ of Deno.stdin.readable) {
  // Nothing is sent: the parent closes stdin to let go.
}
await lock.release();
