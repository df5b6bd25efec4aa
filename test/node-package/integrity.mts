/**
 * Run by test/node-package.test.ts inside the fresh project that installed the packed
 * @lumenslate/storage-client tarball: what the package announces on uploads and checks on
 * downloads, against the real service and, as the Python package's suite does, against a store that
 * lies about an object's sha256 (a grpc-js server on the package's own proto, serving bytes that do
 * not match the sha256 in its header). Prints one JSON line of findings; any failure exits non-zero.
 *
 * Env: LSS_ADDRESS (host:port), LSS_TOKEN (read/write key), LSS_BUCKET, LSS_CORRUPT_KEY (an object
 * whose recorded sha256 the test falsified behind the service's back).
 */
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  loadPackageDefinition,
  Server,
  ServerCredentials,
  type ServerReadableStream,
  type ServerWritableStream,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import {
  connect,
  DataCorruptedError,
  NotFoundError,
  PreconditionFailedError,
  StorageClientError,
} from "@lumenslate/storage-client";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const bucket = env("LSS_BUCKET");
const storage = connect(env("LSS_ADDRESS"), { token: env("LSS_TOKEN") });
const scratch = await mkdtemp(join(tmpdir(), "lss-integrity-"));
const sha256 = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");
const out: Record<string, unknown> = {};

async function failure(promise: Promise<unknown>): Promise<StorageClientError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof StorageClientError) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

const missing = async (objectName: string) =>
  (await failure(storage.stat({ bucket, objectName }))) instanceof NotFoundError;

/** A StorageService that records upload headers and serves other bytes than its header's sha256. */
interface Announced {
  expectedSize?: number;
  sha256?: string;
}

async function lyingStore(): Promise<{ address: string; headers: Announced[]; close(): void }> {
  // The proto the package ships (proto/, beside dist/).
  const root = fileURLToPath(new URL("../proto", import.meta.resolve("@lumenslate/storage-client")));
  const proto = loadPackageDefinition(
    loadSync("lumenslate/storage/v1/storage.proto", { includeDirs: [root], longs: Number, enums: String }),
  ) as unknown as { lumenslate: { storage: { v1: { StorageService: { service: never } } } } };
  const body = Buffer.from("these are not the bytes you are looking for");
  const headers: Announced[] = [];
  const server = new Server();
  server.addService(proto.lumenslate.storage.v1.StorageService.service, {
    DownloadFile(call: ServerWritableStream<{ bucket: string; objectName: string }, unknown>) {
      const file = { bucket: call.request.bucket, objectName: call.request.objectName, size: body.length };
      call.write({ header: { file: { ...file, sha256: "0".repeat(64) }, contentLength: body.length } });
      call.write({ chunk: body });
      call.end();
    },
    UploadFile(
      call: ServerReadableStream<{ header?: Announced }, unknown>,
      callback: sendUnaryData<unknown>,
    ) {
      call.on("data", ({ header }: { header?: Announced }) => {
        if (header) headers.push({ expectedSize: header.expectedSize, sha256: header.sha256 });
      });
      call.on("end", () => callback(null, { success: true }));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  return { address: `127.0.0.1:${port}`, headers, close: () => server.forceShutdown() };
}

try {
  await storage.ready();

  // An announced sha256 the bytes do not have: refused, nothing stored, for a Buffer and a file.
  const path = join(scratch, "report.csv");
  await writeFile(path, "id,total\n1,42\n");
  const wrong = sha256("something else");
  const bufferRefused = await failure(
    storage.upload(Buffer.from("id,total\n1,42\n"), { bucket, objectName: "int/buffer.csv", sha256: wrong }),
  );
  const fileRefused = await failure(
    storage.uploadFile(path, { bucket, objectName: "int/file.csv", sha256: wrong }),
  );
  out.refused = {
    buffer: bufferRefused instanceof PreconditionFailedError,
    file: fileRefused instanceof PreconditionFailedError,
    nothingStored: (await missing("int/buffer.csv")) && (await missing("int/file.csv")),
  };

  // The announcements made by default are right: the service accepts them and stores those bytes.
  const text = "announced by default\n";
  const fromText = await storage.upload(text, { bucket, objectName: "int/text.txt" });
  const fromBytes = await storage.uploadBytes(Buffer.from(text), { bucket, objectName: "int/bytes.txt" });
  const fromFile = await storage.uploadFile(path, { bucket, objectName: "int/file.csv" });
  out.accepted = {
    text: fromText.sha256 === sha256(text),
    bytes: fromBytes.sha256 === sha256(text),
    file: fromFile.sha256 === sha256(await readFile(path)),
  };

  // Verified downloads by default, of an intact object: to a file, a stream and a Buffer.
  const copy = join(scratch, "copy.csv");
  await storage.downloadToFile(copy, { bucket, objectName: "int/file.csv" });
  const streamed = await storage.downloadStream({ bucket, objectName: "int/text.txt" });
  out.intact = {
    file: (await readFile(copy, "utf8")) === "id,total\n1,42\n",
    stream: Buffer.concat((await streamed.stream.toArray()) as Buffer[]).toString() === text,
    bytes: (await storage.downloadBytes({ bucket, objectName: "int/bytes.txt" })).toString() === text,
  };

  // An object corrupted behind the service's back: a typed error, and no file left behind.
  const corruptKey = env("LSS_CORRUPT_KEY");
  const corruptDir = await mkdtemp(join(scratch, "corrupt-"));
  const toFile = await failure(
    storage.downloadToFile(join(corruptDir, "copy.bin"), { bucket, objectName: corruptKey }),
  );
  const toBytes = await failure(storage.downloadBytes({ bucket, objectName: corruptKey }));
  out.corrupted = {
    toFile: { name: toFile.name, code: toFile.code, hasRequestId: typeof toFile.requestId === "string" },
    toBytes: toBytes instanceof DataCorruptedError,
    leftFiles: await readdir(corruptDir),
  };

  // A store that lies: the package's own check catches it by default; verify: false accepts the bytes.
  const liar = await lyingStore();
  const lied = connect(liar.address, { retry: { maxAttempts: 1 } });
  try {
    const lieDir = await mkdtemp(join(scratch, "lie-"));
    const lieFile = await failure(
      lied.downloadToFile(join(lieDir, "copy.bin"), { bucket: "b", objectName: "k" }),
    );
    const lieStream = await lied.downloadStream({ bucket: "b", objectName: "k" });
    const lieStreamError = await failure(lieStream.stream.toArray());
    const leftAfterLie = await readdir(lieDir);
    await lied.downloadToFile(join(lieDir, "unchecked.bin"), { bucket: "b", objectName: "k", verify: false });
    await lied.upload(text, { bucket: "b", objectName: "k" });
    await lied.uploadFile(path, { bucket: "b", objectName: "k" });
    out.lyingStore = {
      file: { name: lieFile.name, code: lieFile.code, sha256InDetails: lieFile.details.sha256 },
      stream: lieStreamError instanceof DataCorruptedError,
      leftFiles: leftAfterLie,
      unverified: (await readFile(join(lieDir, "unchecked.bin"), "utf8")).startsWith("these are not"),
      uploadHeaders: liar.headers,
    };
  } finally {
    lied.close();
    liar.close();
  }
  console.log(JSON.stringify(out));
} finally {
  storage.close();
  await rm(scratch, { recursive: true, force: true });
}
