// Test helper process for the store contract: writes inside a transaction, says so, and waits to be killed.
import { openStore } from "../../core/store/open_store.ts";

const store = openStore(Deno.args[0]!);
await store.write(async (writer) => {
  for (let index = 0; index < 50; index++) {
    await writer.upsert("osimage", { imagename: `killed${index}`, profile: "p" });
  }
  await writer.upsert("site", { key: "before", value: "changed" });
  await writer.delete("site", { key: "before" });
  console.log("in transaction");
  // The test SIGKILLs this process now; the transaction never ends.
  await new Promise((resolve) => setTimeout(resolve, 60_000));
});
