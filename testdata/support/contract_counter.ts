// Test helper process for the store contract: increments site.counter in read-modify-write transactions.
import { openStore } from "../../core/store/open_store.ts";

const [url, id, countText] = Deno.args;
const store = openStore(url!);
try {
  for (let index = 0; index < Number(countText); index++) {
    await store.write(async (writer) => {
      const [row] = await writer.rows("site", { key: "counter" });
      // Yield between the read and the write, as a real transaction doing other work would.
      await new Promise((resolve) => setTimeout(resolve, 0));
      await writer.upsert("site", { key: "counter", value: String(Number(row?.value) + 1) });
      await writer.upsert("site", { key: `${id}${index}`, value: "done" });
    });
  }
} finally {
  store.close();
}
