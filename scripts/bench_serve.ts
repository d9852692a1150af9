// Benchmark: `osimg serve` against nginx (Debian's, sendfile on) serving the same tree on
// loopback in the same run: aggregate throughput, p99 latency and the server's memory.
//
// Usage: deno run -A scripts/bench_serve.ts [--size-gb 1] [--big-clients 200]
//          [--range-clients 20,100,200] [--range-mb 64] [--script-clients 200]
//          [--script-requests 200] [--rounds 1] [--dir /dev/shm] [--keep]
//          [--only big,ranges,scripts]
// Run it under the shared lock: flock /work/wt/heavy.lock deno run -A scripts/bench_serve.ts
//
// On one 1 GB rootimg (written once, then in the page cache for both servers alike; --dir
// /dev/shm puts it on tmpfs) and 200 node scripts:
//   big:     --big-clients (200) clients at once, each fetching the whole rootimg: the issue's
//            scenario, 200 GB a server
//   ranges:  for each of --range-clients (20, 100, 200) clients at once, each fetches its own
//            --range-mb (64 MB) range of the rootimg (HTTP Range, as a resuming or striping
//            client does; served the same way as a whole file): the peak memory at each client
//            count shows whether it is flat
//   scripts: --script-clients (200) clients at once fetching small iPXE node scripts,
//            --script-requests each on kept-alive connections
// The load generator is curl --parallel (one C process, one transfer per client); its per-
// transfer time_total gives the latencies. On 2 cores the client and the server share the CPU,
// so absolute numbers are low for both; the ratio is what compares them. Memory is the serving
// process's peak RSS sampled from /proc every 50 ms during each scenario (osimg: the one Deno
// process; nginx: master plus workers), beside its RSS when idle before the load. Every
// scenario starts each server afresh; with several rounds the order of the servers alternates,
// and the summary gives the median and the spread of the ratios.

import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const args = parseArgs({
  args: Deno.args,
  options: {
    "size-gb": { type: "string" },
    "big-clients": { type: "string" },
    "range-clients": { type: "string" },
    "range-mb": { type: "string" },
    "script-clients": { type: "string" },
    "script-requests": { type: "string" },
    rounds: { type: "string" },
    dir: { type: "string" },
    keep: { type: "boolean" },
    only: { type: "string" },
  },
});
const MB = 1024 ** 2;
const GB = 1024 ** 3;
const counts = (text: string) => text.split(",").map(Number);
const size = Math.round(Number(args.values["size-gb"] ?? "1") * GB);
const bigClients = counts(args.values["big-clients"] ?? "200");
const rangeClients = counts(args.values["range-clients"] ?? "20,100,200");
const rangeBytes = Number(args.values["range-mb"] ?? "64") * MB;
const scriptClients = Number(args.values["script-clients"] ?? "200");
const scriptRequests = Number(args.values["script-requests"] ?? "200");
const rounds = Number(args.values.rounds ?? "1");
const main = fileURLToPath(new URL("../main.ts", import.meta.url));

const work = await Deno.makeTempDir({ prefix: "osimg-bench-serve-", dir: args.values.dir });
// nginx's workers run as nobody: the tree must be readable to them.
await Deno.chmod(work, 0o755);
const root = `${work}/root`;
const rootimg = "/install/netboot/bench/x86_64/compute/rootimg.cpio.gz";
await Deno.mkdir(`${root}/install/netboot/bench/x86_64/compute`, { recursive: true });
await Deno.mkdir(`${root}/tftpboot/xcat/xnba/nodes`, { recursive: true });

console.log(
  `Writing a ${(size / GB).toFixed(2)} GB rootimg and ${scriptClients} node scripts in ${work}`,
);
{
  const file = await Deno.open(`${root}${rootimg}`, { write: true, create: true, truncate: true });
  const chunk = new Uint8Array(8 * MB);
  for (let written = 0; written < size; written += chunk.length) {
    crypto.getRandomValues(chunk.subarray(0, 65536));
    for (let offset = 65536; offset < chunk.length; offset *= 2) {
      chunk.copyWithin(offset, 0, offset);
    }
    await file.write(chunk.subarray(0, Math.min(chunk.length, size - written)));
  }
  file.close();
}
for (let index = 1; index <= scriptClients; index++) {
  const node = `cn${String(index).padStart(3, "0")}`;
  await Deno.writeTextFile(
    `${root}/tftpboot/xcat/xnba/nodes/${node}`,
    `#!gpxe\n#netboot debian12-x86_64-compute\nimgfetch -n kernel http://\${next-server}/tftpboot/xcat/osimage/debian12/kernel\nimgload kernel\nimgargs kernel imgurl=http://\${next-server}:80//install/netboot/debian12/x86_64/compute/rootimg.cpio.gz XCAT=\${next-server}:3001 NODE=${node} FC=0 XCATHTTPPORT=80 quiet BOOTIF=01-\${netX/mac:hexhyp}\nimgfetch -n initrd http://\${next-server}/tftpboot/xcat/osimage/debian12/initrd-stateless.gz\nimgexec kernel\n`,
  );
}
// Warm the page cache for both servers alike.
await new Deno.Command("cat", { args: [`${root}${rootimg}`], stdout: "null" }).output();

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function waitForPort(port: number): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`nothing listens on ${port}`);
}

interface Server {
  name: string;
  port: number;
  /** The pids whose RSS is the server's memory. */
  pids(): number[];
  stop(): Promise<void>;
}

async function startOsimg(): Promise<Server> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      main,
      "--root",
      root,
      "serve",
      "--http",
      `127.0.0.1:${port}`,
      "--tftp",
      "off",
      "--access-log",
      `${work}/osimg-access.log`,
    ],
    stdout: "null",
    stderr: "null",
  }).spawn();
  await waitForPort(port);
  return {
    name: "osimg serve",
    port,
    pids: () => [child.pid],
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

async function startNginx(): Promise<Server> {
  const port = freePort();
  const dir = `${work}/nginx`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/nginx.conf`,
    `daemon off;
worker_processes auto;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 4096; }
http {
  access_log ${dir}/access.log;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:${port}; root ${root}; autoindex off; }
}
`,
  );
  const child = new Deno.Command("nginx", {
    args: ["-c", `${dir}/nginx.conf`, "-p", dir],
    stdout: "null",
    stderr: "piped",
  })
    .spawn();
  await waitForPort(port);
  return {
    name: "nginx",
    port,
    pids() {
      const children = Deno.readTextFileSync(`/proc/${child.pid}/task/${child.pid}/children`)
        .trim();
      return [child.pid, ...children.split(/\s+/).filter(Boolean).map(Number)];
    },
    async stop() {
      child.kill("SIGQUIT");
      await child.status;
    },
  };
}

function rssKiB(pids: number[]): number {
  let total = 0;
  for (const pid of pids) {
    try {
      total += Number(
        /VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))?.[1] ?? 0,
      );
    } catch {
      // gone
    }
  }
  return total;
}

interface Result {
  seconds: number;
  bytes: number;
  transfers: number;
  p50: number;
  p99: number;
  idleMiB: number;
  peakMiB: number;
}

/** Runs one curl --parallel over `requests` (url and optional range), sampling the server's RSS. */
async function load(
  server: Server,
  requests: { path: string; range?: string }[],
  parallel: number,
): Promise<Result> {
  const config = requests.map(({ path, range }) =>
    `url = "http://127.0.0.1:${server.port}${path}"\noutput = "/dev/null"\n${
      range ? `range = "${range}"\n` : ""
    }`
  ).join("");
  const configPath = `${work}/curl.conf`;
  await Deno.writeTextFile(configPath, config);
  const idle = rssKiB(server.pids());
  let peak = idle;
  const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(server.pids()))), 50);
  const started = performance.now();
  const output = await new Deno.Command("curl", {
    args: [
      "-sS",
      "--fail",
      "--parallel",
      "--parallel-immediate",
      "--parallel-max",
      String(parallel),
      "-w",
      "%{time_total} %{size_download}\n",
      "-K",
      configPath,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  if (output.code !== 0) {
    throw new Error(`curl failed: ${new TextDecoder().decode(output.stderr).slice(-500)}`);
  }
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  const times = lines.map((line) => Number(line.split(" ")[0])).sort((a, b) => a - b);
  const bytes = lines.reduce((sum, line) => sum + Number(line.split(" ")[1]), 0);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
  return {
    seconds,
    bytes,
    transfers: lines.length,
    p50: at(0.5),
    p99: at(0.99),
    idleMiB: idle / 1024,
    peakMiB: peak / 1024,
  };
}

interface Scenario {
  kind: string;
  name: string;
  clients: number;
  requests: { path: string; range?: string }[];
  /** Bytes every run must deliver; undefined for the scripts (counted in requests). */
  expected?: number;
}

const scriptPath = (index: number) =>
  `/tftpboot/xcat/xnba/nodes/cn${String((index % scriptClients) + 1).padStart(3, "0")}`;
const scenarios: Scenario[] = [
  ...bigClients.map((clients) => ({
    kind: "big",
    name: `big: ${clients} clients x whole ${fmt(size / GB)} GB rootimg`,
    clients,
    requests: Array.from({ length: clients }, () => ({ path: rootimg })),
    expected: clients * size,
  })),
  ...rangeClients.map((clients) => ({
    kind: "ranges",
    name: `ranges: ${clients} clients x ${rangeBytes / MB} MB ranges of the rootimg`,
    clients,
    requests: Array.from({ length: clients }, (_, index) => {
      const start = (index * rangeBytes) % (size - rangeBytes + 1);
      return { path: rootimg, range: `${start}-${start + rangeBytes - 1}` };
    }),
    expected: clients * rangeBytes,
  })),
  {
    kind: "scripts",
    name: `scripts: ${scriptClients} clients x ${scriptRequests} iPXE scripts`,
    clients: scriptClients,
    requests: Array.from({ length: scriptClients * scriptRequests }, (_, index) => ({
      path: scriptPath(index),
    })),
  },
];

function fmt(value: number, digits = 2): string {
  return value.toFixed(digits);
}

function rate(scenario: Scenario, result: Result): string {
  return scenario.expected === undefined
    ? `${fmt(result.transfers / result.seconds, 0)} req/s`
    : `${fmt(result.bytes / GB / result.seconds)} GB/s`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const NAMES = ["nginx", "osimg serve"];
try {
  const only = args.values.only?.split(",");
  const chosen = scenarios.filter((scenario) => !only || only.includes(scenario.kind));
  const results = new Map<Scenario, Record<string, Result>[]>();
  for (let round = 0; round < rounds; round++) {
    console.log(`\nRound ${round + 1} of ${rounds}`);
    for (const scenario of chosen) {
      const byServer: Record<string, Result> = {};
      // The order alternates between rounds: neither server always runs on a warmer machine.
      const starts = round % 2 === 0 ? [startNginx, startOsimg] : [startOsimg, startNginx];
      for (const start of starts) {
        const server = await start();
        try {
          const result = await load(server, scenario.requests, scenario.clients);
          if (scenario.expected !== undefined && result.bytes !== scenario.expected) {
            throw new Error(`${server.name}: ${result.bytes} bytes, expected ${scenario.expected}`);
          }
          if (scenario.expected === undefined && result.transfers !== scenario.requests.length) {
            throw new Error(`${server.name}: ${result.transfers} of ${scenario.requests.length}`);
          }
          byServer[server.name] = result;
        } finally {
          await server.stop();
        }
      }
      results.set(scenario, [...(results.get(scenario) ?? []), byServer]);
      console.log(`  ${scenario.name}`);
      for (const name of NAMES) {
        const result = byServer[name]!;
        console.log(
          `    ${name.padEnd(12)} ${fmt(result.seconds).padStart(7)} s  ${
            rate(scenario, result).padStart(12)
          }  p50 ${fmt(result.p50 * 1000, 1)} ms  p99 ${fmt(result.p99 * 1000, 1)} ms  ` +
            `RSS idle ${fmt(result.idleMiB, 0)} MiB, peak ${fmt(result.peakMiB, 0)} MiB`,
        );
      }
      const ratio = byServer.nginx!.seconds / byServer["osimg serve"]!.seconds;
      console.log(`    osimg/nginx throughput: ${fmt(ratio)}x`);
    }
  }

  console.log(
    `\nSummary (median of ${rounds} round${rounds === 1 ? "" : "s"}; ratio = osimg/nginx ` +
      `throughput, goal >= 0.8x; min-max over the rounds)`,
  );
  for (const [scenario, runs] of results) {
    const ratios = runs.map((run) => run.nginx!.seconds / run["osimg serve"]!.seconds);
    const column = (name: string) => {
      const of = (pick: (result: Result) => number) => median(runs.map((run) => pick(run[name]!)));
      const perSecond = scenario.expected === undefined
        ? `${fmt(of((r) => r.transfers / r.seconds), 0)} req/s`
        : `${fmt(of((r) => r.bytes / GB / r.seconds))} GB/s`;
      return `${name} ${perSecond}, p99 ${fmt(of((r) => r.p99) * 1000, 1)} ms, peak RSS ${
        fmt(of((r) => r.peakMiB), 0)
      } MiB`;
    };
    console.log(`  ${scenario.name}`);
    console.log(`    ${column("nginx")}`);
    console.log(`    ${column("osimg serve")}`);
    console.log(
      `    ratio ${fmt(median(ratios))}x (${fmt(Math.min(...ratios))}-${fmt(Math.max(...ratios))})`,
    );
  }
} finally {
  if (!args.values.keep) await Deno.remove(work, { recursive: true });
}
