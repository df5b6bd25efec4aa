import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

/**
 * A throwaway PKI for TLS tests, made with the `openssl` CLI at test time: one CA and certificates
 * it signs (server certificates for 127.0.0.1/localhost, client certificates for mTLS). EC P-256
 * keys keep generation fast. Nothing here protects anything real; `dispose()` removes it all.
 */

const exec = promisify(execFile);

export interface IssuedCert {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

export interface TestCa {
  /** The temp dir holding every file below. */
  dir: string;
  /** The CA certificate (PEM): what clients trust (MINIO_CA_FILE, TLS_CLIENT_CA_FILE). */
  caFile: string;
  ca: Buffer;
  /**
   * Issues a certificate signed by this CA. Server certificates name 127.0.0.1 and localhost
   * unless `hosts` says otherwise; `client: true` makes a client-auth certificate instead.
   */
  issue(name: string, options?: { hosts?: string[]; client?: boolean }): Promise<IssuedCert>;
  /**
   * A MinIO `--certs-dir` (public.crt + private.key, the CA under CAs/) holding a server
   * certificate for 127.0.0.1/localhost.
   */
  minioCertsDir(): Promise<string>;
  dispose(): Promise<void>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await exec("openssl", args, { cwd });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? "";
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || (err as Error).message}`);
  }
}

const ecKey = (out: string) => [
  "genpkey",
  "-algorithm",
  "EC",
  "-pkeyopt",
  "ec_paramgen_curve:P-256",
  "-out",
  out,
];

const sanFor = (hosts: string[]) =>
  hosts.map((h) => (/^[\d.]+$/.test(h) || h.includes(":") ? `IP:${h}` : `DNS:${h}`)).join(",");

/** Creates a CA in a fresh temp dir. Needs `openssl` on PATH. */
export async function createTestCa(): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), "lumenslate-pki-"));
  const caFile = join(dir, "ca.crt");
  try {
    await openssl(ecKey("ca.key"), dir);
    await openssl(
      [
        "req",
        "-x509",
        "-new",
        "-key",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=lumenslate-storage test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      ],
      dir,
    );
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const ca = await readFile(caFile);
  let serial = 1;

  const issue: TestCa["issue"] = async (name, options = {}) => {
    if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`certificate name '${name}' must be [a-z0-9-]+`);
    const hosts = options.hosts ?? ["127.0.0.1", "localhost"];
    const extensions = options.client
      ? ["basicConstraints=CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=clientAuth"]
      : [
          "basicConstraints=CA:FALSE",
          "keyUsage=critical,digitalSignature,keyEncipherment",
          "extendedKeyUsage=serverAuth",
          `subjectAltName=${sanFor(hosts)}`,
        ];
    await writeFile(join(dir, `${name}.ext`), `${extensions.join("\n")}\n`);
    await openssl(ecKey(`${name}.key`), dir);
    await openssl(
      [
        "req",
        "-new",
        "-key",
        `${name}.key`,
        "-out",
        `${name}.csr`,
        "-subj",
        `/CN=${options.client ? name : hosts[0]}`,
      ],
      dir,
    );
    await openssl(
      [
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-set_serial",
        String(serial++),
        "-days",
        "2",
        "-extfile",
        `${name}.ext`,
        "-out",
        `${name}.crt`,
      ],
      dir,
    );
    const certFile = join(dir, `${name}.crt`);
    const keyFile = join(dir, `${name}.key`);
    return { certFile, keyFile, cert: await readFile(certFile), key: await readFile(keyFile) };
  };

  const minioCertsDir = async () => {
    const server = await issue("minio");
    const certsDir = join(dir, "minio-certs");
    await mkdir(join(certsDir, "CAs"), { recursive: true });
    await writeFile(join(certsDir, "public.crt"), server.cert);
    await writeFile(join(certsDir, "private.key"), server.key);
    await writeFile(join(certsDir, "CAs", "ca.crt"), ca);
    return certsDir;
  };

  return {
    dir,
    caFile,
    ca,
    issue,
    minioCertsDir,
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
