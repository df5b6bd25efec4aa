import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StorageError } from "../errors.ts";
import type { ModelVersion } from "../stores/models/types.ts";
import { collectModelFiles, pickFiles, pullFiles } from "./model-files.ts";
import type { ModelsApi } from "./models-api.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "model-files-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const version = (paths: string[]): ModelVersion => ({
  modelType: "clf",
  version: "1.0.0",
  files: paths.map((path) => ({
    path,
    size: 3,
    sha256: "a".repeat(64),
    storedSize: 3,
    encoding: "identity",
  })),
  metadata: {},
  uploader: "test",
  createdAt: new Date(0),
  aliases: [],
});

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return err instanceof StorageError ? err.code : undefined;
}

describe("collectModelFiles", () => {
  it("takes a directory's files by relative path and a file by its name", async () => {
    await mkdir(join(dir, "model", "weights"), { recursive: true });
    await writeFile(join(dir, "model", "weights", "w.bin"), "abcd");
    await writeFile(join(dir, "model", "config.json"), "{}");
    await writeFile(join(dir, "README.md"), "hello");
    const files = await collectModelFiles([join(dir, "model"), join(dir, "README.md")]);
    expect(files.map((f) => [f.path, f.size])).toEqual([
      ["config.json", 2],
      ["weights/w.bin", 4],
      ["README.md", 5],
    ]);
  });

  it("refuses two sources that would share a path, an empty directory, and a missing path", async () => {
    await mkdir(join(dir, "a"));
    await mkdir(join(dir, "empty"));
    await writeFile(join(dir, "a", "config.json"), "{}");
    await writeFile(join(dir, "config.json"), "{}");
    expect(await codeOf(collectModelFiles([join(dir, "a"), join(dir, "config.json")]))).toBe(
      "INVALID_ARGUMENT",
    );
    expect(await codeOf(collectModelFiles([join(dir, "empty")]))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(collectModelFiles([join(dir, "nope")]))).toBe("INVALID_ARGUMENT");
  });
});

describe("pickFiles", () => {
  it("takes every file, or the one named, or NOT_FOUND", () => {
    const v = version(["a.bin", "b/c.bin"]);
    expect(pickFiles(v, undefined)).toHaveLength(2);
    expect(pickFiles(v, "b/c.bin").map((f) => f.path)).toEqual(["b/c.bin"]);
    expect(() => pickFiles(v, "d.bin")).toThrow(expect.objectContaining({ code: "NOT_FOUND" }));
  });
});

describe("pullFiles", () => {
  const api = (bodies: Record<string, () => Readable>): ModelsApi =>
    ({
      openFile: async (_t: string, _v: string, f: { path: string }) => (bodies[f.path] as () => Readable)(),
    }) as unknown as ModelsApi;

  it("writes each file under the directory at its path", async () => {
    const v = version(["x/a.bin"]);
    const written = await pullFiles(
      api({ "x/a.bin": () => Readable.from([Buffer.from("abc")]) }),
      v,
      v.files,
      dir,
      {
        signal: new AbortController().signal,
      },
    );
    expect(written).toMatchObject([{ path: "x/a.bin", size: 3 }]);
    expect(await readFile(join(dir, "x", "a.bin"), "utf8")).toBe("abc");
  });

  it("leaves no file behind when a body fails, and refuses a path that would leave the directory", async () => {
    const v = version(["a.bin"]);
    const failing = () =>
      Readable.from(
        (async function* () {
          yield Buffer.from("ab");
          throw new StorageError("DATA_CORRUPTED", "bytes do not match");
        })(),
      );
    expect(
      await codeOf(
        pullFiles(api({ "a.bin": failing }), v, v.files, dir, { signal: new AbortController().signal }),
      ),
    ).toBe("DATA_CORRUPTED");
    expect(await readdir(dir)).toEqual([]);

    const escaping = version(["../out.bin"]);
    expect(
      await codeOf(
        pullFiles(api({}), escaping, escaping.files, dir, { signal: new AbortController().signal }),
      ),
    ).toBe("INVALID_ARGUMENT");
  });
});
