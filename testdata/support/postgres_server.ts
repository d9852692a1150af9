// Test support: one throwaway PostgreSQL cluster per test process (initdb into a temporary directory, pg_ctl on a Unix socket there and a loopback port), stopped and removed when the process ends.

import { existsSync, readdirSync } from "node:fs";
import { dirname } from "node:path";
import { systemRunner } from "../../core/process.ts";

/** A role that logs in over TCP with a password (the wrong-password tests). */
export const PASSWORD_ROLE = { user: "osimg_pw", password: "s3cret-Pa55" } as const;
/** A role the server lets in over TLS only (the sslmode tests). */
export const TLS_ROLE = { user: "osimg_tls", password: "tls-Pa55" } as const;

/** The running test cluster. */
export interface TestPostgres {
  /** The directory holding the server's Unix socket. */
  socketDir: string;
  /** The loopback TCP port. */
  port: number;
  /** The server's self-signed certificate (CN and subjectAltName localhost, 127.0.0.1). */
  certFile: string;
  /** The superuser's URL for `database` over the Unix socket. */
  url(database: string): string;
  /** Runs SQL as the superuser (psql, on the Unix socket); returns its unaligned output. */
  psql(sql: string, database?: string): Promise<string>;
  /** A new database, empty or a copy of `template`; dispose of it to drop it. */
  database(template?: string): Promise<TestDatabase>;
}

/** One database of the test cluster. */
export interface TestDatabase {
  name: string;
  /** Its superuser URL over the Unix socket. */
  url: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The newest PostgreSQL server binaries: on PATH, or Debian's /usr/lib/postgresql/<v>/bin. */
export function postgresBinDir(): string {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    // A link on PATH (some systems link initdb into /usr/local/bin): psql lies beside the real one.
    if (dir && existsSync(`${dir}/initdb`)) return dirname(Deno.realPathSync(`${dir}/initdb`));
  }
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base)
    ? readdirSync(base).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a))
    : [];
  for (const version of versions) {
    const dir = `${base}/${version}/bin`;
    if (existsSync(`${dir}/initdb`)) return dir;
  }
  throw new Error(
    "The PostgreSQL tests need the server binaries (initdb, pg_ctl): apt-get install postgresql",
  );
}

let started: Promise<TestPostgres> | undefined;
let counter = 0;

/**
 * The test process's cluster, started on the first call (~1 s) and stopped when the process
 * exits ("unload"), so every test file that needs one pays for it once.
 *
 * @example
 * ```ts
 * await using db = await (await testPostgres()).database();
 * const store = openStore(db.url);
 * ```
 */
export function testPostgres(): Promise<TestPostgres> {
  started ??= start();
  return started;
}

/** initdb refuses to run as root: as root, the server runs as Debian's `postgres` user. */
function asServerUser(argv: string[]): string[] {
  return Deno.uid() === 0 ? ["runuser", "-u", "postgres", "--", ...argv] : argv;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function start(): Promise<TestPostgres> {
  const bin = postgresBinDir();
  const dir = await Deno.makeTempDir({ prefix: "osimg-pg-" });
  const data = `${dir}/data`;
  if (Deno.uid() === 0) {
    const [uid, gid] = await text(["id", "-u", "postgres"], ["id", "-g", "postgres"]);
    await Deno.chown(dir, Number(uid), Number(gid));
  }
  const stop = () => {
    // An unload handler cannot await: stop and remove synchronously.
    if (existsSync(`${data}/postmaster.pid`)) {
      const [program, ...args] = asServerUser([
        `${bin}/pg_ctl`,
        "-D",
        data,
        "-m",
        "immediate",
        "-w",
        "stop",
      ]);
      new Deno.Command(program!, { args, stdout: "null", stderr: "null" }).outputSync();
    }
    Deno.removeSync(dir, { recursive: true });
  };
  globalThis.addEventListener("unload", stop);
  try {
    await systemRunner.run(
      asServerUser([
        `${bin}/initdb`,
        "-D",
        data,
        "-U",
        "postgres",
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
      ]),
      { cwd: "/" },
    );
    const certFile = `${data}/server.crt`;
    await systemRunner.run(
      asServerUser([
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout",
        `${data}/server.key`,
        "-out",
        certFile,
      ]),
      { cwd: "/" },
    );
    // Unix socket: trust. Loopback TCP: passwords, and the TLS role only over TLS.
    await Deno.writeTextFile(
      `${data}/pg_hba.conf`,
      [
        "local all all trust",
        `hostssl all ${TLS_ROLE.user} 127.0.0.1/32 scram-sha-256`,
        `hostnossl all ${TLS_ROLE.user} 127.0.0.1/32 reject`,
        "host all all 127.0.0.1/32 scram-sha-256",
        "",
      ].join("\n"),
    );
    let port = 0;
    for (let attempt = 0;; attempt++) {
      port = freePort();
      const result = await systemRunner.run(
        asServerUser([
          `${bin}/pg_ctl`,
          "-D",
          data,
          "-l",
          `${dir}/server.log`,
          "-w",
          "-o",
          [
            `-k ${dir}`,
            `-p ${port}`,
            "-c listen_addresses=127.0.0.1",
            "-c fsync=off",
            "-c synchronous_commit=off",
            "-c full_page_writes=off",
            "-c ssl=on",
            "-c max_connections=200",
          ].join(" "),
          "start",
        ]),
        { cwd: "/", allowFailure: true },
      );
      if (result.code === 0) break;
      // Another process may have taken the port between freePort and the server's bind.
      if (attempt >= 4) {
        throw new Error(
          `pg_ctl start failed: ${result.stderr}\n${await Deno.readTextFile(`${dir}/server.log`)
            .catch(() => "")}`,
        );
      }
    }
    const cluster: TestPostgres = {
      socketDir: dir,
      port,
      certFile,
      url: (database) =>
        `postgresql://postgres@/${database}?host=${encodeURIComponent(dir)}&port=${port}`,
      async psql(sql, database = "postgres") {
        const output = await systemRunner.run([
          `${bin}/psql`,
          "-X",
          "-q",
          "-A",
          "-t",
          "-v",
          "ON_ERROR_STOP=1",
          "-h",
          dir,
          "-p",
          String(port),
          "-U",
          "postgres",
          "-d",
          database,
          "-c",
          sql,
        ]);
        return new TextDecoder().decode(output.stdout);
      },
      async database(template) {
        const name = `osimg_test_${Deno.pid}_${++counter}`;
        await cluster.psql(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ""}`);
        return {
          name,
          url: cluster.url(name),
          [Symbol.asyncDispose]: async () => {
            await cluster.psql(`DROP DATABASE ${name} WITH (FORCE)`);
          },
        };
      },
    };
    await cluster.psql(
      `CREATE ROLE ${PASSWORD_ROLE.user} LOGIN SUPERUSER PASSWORD '${PASSWORD_ROLE.password}';` +
        `CREATE ROLE ${TLS_ROLE.user} LOGIN SUPERUSER PASSWORD '${TLS_ROLE.password}'`,
    );
    return cluster;
  } catch (error) {
    globalThis.removeEventListener("unload", stop);
    stop();
    throw error;
  }
}

async function text(...commands: string[][]): Promise<string[]> {
  const out: string[] = [];
  for (const argv of commands) {
    out.push(new TextDecoder().decode((await systemRunner.run(argv)).stdout).trim());
  }
  return out;
}
