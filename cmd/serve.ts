// serve: publish the install and tftp trees read-only over HTTP and TFTP, in the foreground.

import { type Command, parseFlags, stringFlag } from "../core/command.ts";
import { siteValue } from "../core/context.ts";
import { parseListenAddress, serveUntilSignalled } from "../core/serve/serve.ts";

export const serve: Command = {
  name: "serve",
  usage: `Usage:
  serve [-h | --help]
  serve [--http ADDR:PORT | off] [--tftp ADDR:PORT | off] [--access-log FILE | -]

Serves site.installdir at /install and site.tftpdir at /tftpboot (their management paths),
read-only, in the foreground, until SIGTERM or SIGINT (transfers in flight are finished).

    --http ADDR:PORT     HTTP/1.1 address (default 0.0.0.0:<site.httpport, 80>); 'off' for none
    --tftp ADDR:PORT     TFTP address (default 0.0.0.0:69); 'off' for none
    --access-log FILE    append one line per request or transfer (Combined Log Format plus
                         the duration in ms) to FILE; '-' for standard output
`,
  async run(ctx, args) {
    const { flags } = parseFlags("serve", args, {
      http: { type: "string" },
      tftp: { type: "string" },
      "access-log": { type: "string" },
    }, { maxPositionals: 0 });
    const httpPort = await siteValue(await ctx.store(), "httpport");
    await serveUntilSignalled(ctx, {
      http: parseListenAddress("--http", stringFlag(flags, "http") ?? `0.0.0.0:${httpPort ?? 80}`),
      tftp: parseListenAddress("--tftp", stringFlag(flags, "tftp") ?? "0.0.0.0:69"),
      accessLog: stringFlag(flags, "access-log"),
    });
  },
};
