import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect, it } from "vitest";
import type { CliRun } from "./support/cli.ts";
import { describeBothModes } from "./support/cli-modes.ts";
import { uploadableBytes } from "./support/data.ts";

/**
 * `model push|pull|ls|rm|alias|gc` in local mode (embedded PGlite, filesystem backend) and in
 * remote mode against a running service on MinIO (--endpoint/--token), with the same output
 * either way: a directory pushed and pulled back byte for byte, listings, aliases, a delete that
 * an alias blocks, and gc reporting exactly the blob no version references any more.
 */

interface FileJson {
  path: string;
  size: number;
  sha256: string;
}
interface VersionJson {
  modelType: string;
  version: string;
  files: FileJson[];
  metadata: Record<string, unknown>;
  aliases: string[];
}
interface GcJson {
  dryRun: boolean;
  blobs: number;
  bytes: number;
  keys: string[];
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

function json<T>(run: CliRun): T {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
  return JSON.parse(run.stdout) as T;
}

/** A model directory: weights in a subfolder, a config, a vocabulary. */
async function modelDir(dir: string, weights: Buffer, config: Buffer, vocab: Buffer): Promise<void> {
  await mkdir(join(dir, "weights"), { recursive: true });
  await writeFile(join(dir, "weights", "model.bin"), weights);
  await writeFile(join(dir, "config.json"), config);
  await writeFile(join(dir, "vocab.txt"), vocab);
}

function workflow(cli: (...argv: string[]) => Promise<CliRun>, label: string) {
  // The remote service's registry may share its database with other suites: a type of this run only.
  const type = `cli-${label}-${randomBytes(3).toString("hex")}`;
  const weights = uploadableBytes(256 * 1024);
  const config = Buffer.from(JSON.stringify({ layers: 4, label }));
  const vocab = Buffer.from(`${randomBytes(8).toString("hex")}\nthe\nof\nand\n`.repeat(50));

  it("pushes a directory and pulls it back byte for byte, by alias, verified", async () => {
    const dir = join(modes.tmp, `${label}-v1`);
    await modelDir(dir, weights, config, vocab);
    const v1 = json<VersionJson>(
      await cli(
        "model",
        "push",
        dir,
        "--type",
        type,
        "--version",
        "1.0.0",
        "--framework",
        "pytorch",
        "--tag",
        "nlp",
        "--meta",
        "team=search",
        "--metric",
        "accuracy=0.91",
        "--alias",
        "production",
        "--json",
      ),
    );
    expect(v1).toMatchObject({
      modelType: type,
      version: "1.0.0",
      metadata: {
        framework: "pytorch",
        tags: ["nlp"],
        extra: { team: "search" },
        metrics: { accuracy: 0.91 },
      },
    });
    expect(v1.aliases.sort()).toEqual(["latest", "production"]);
    expect(v1.files.map((f) => [f.path, f.size, f.sha256]).sort()).toEqual(
      [
        ["config.json", config.length, sha(config)],
        ["vocab.txt", vocab.length, sha(vocab)],
        ["weights/model.bin", weights.length, sha(weights)],
      ].sort(),
    );

    const out = join(modes.tmp, `${label}-pulled`);
    const pulled = json<{ version: string; files: FileJson[] }>(
      await cli("model", "pull", type, "production", "--out", out, "--json"),
    );
    expect(pulled).toMatchObject({ version: "1.0.0" });
    expect(pulled.files).toHaveLength(3);
    expect(await readFile(join(out, "weights", "model.bin"))).toEqual(weights);
    expect(await readFile(join(out, "config.json"))).toEqual(config);
    expect(await readFile(join(out, "vocab.txt"))).toEqual(vocab);

    const one = await cli("model", "pull", type, "latest", "--file", "config.json", "--out", "-");
    expect(one).toMatchObject({ code: 0, stdout: config.toString(), stderr: "" });
    const missing = await cli("model", "pull", type, "latest", "--file", "nope.bin", "--out", out);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/NOT_FOUND: .*nope\.bin/);
  });

  it("lists versions newest first, filtered by type and tag", async () => {
    const dir = join(modes.tmp, `${label}-v2`);
    await modelDir(dir, uploadableBytes(128 * 1024), config, vocab);
    json<VersionJson>(
      await cli("model", "push", dir, "--type", type, "--version", "2.0.0", "--tag", "large", "--json"),
    );
    const all = json<{ versions: VersionJson[] }>(await cli("model", "ls", "--type", type, "--json"));
    expect(all.versions.map((v) => [v.version, v.aliases.sort()])).toEqual([
      ["2.0.0", ["latest"]],
      ["1.0.0", ["production"]],
    ]);
    const large = json<{ versions: VersionJson[] }>(
      await cli("model", "ls", "--type", type, "--tag", "large", "--json"),
    );
    expect(large.versions.map((v) => v.version)).toEqual(["2.0.0"]);
    const text = await cli("model", "ls", "--type", type);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^TYPE\s+VERSION/);
    expect(text.stdout).toContain("production");
  });

  it("refuses to delete a version an alias names; after the alias moves it goes, and gc frees its weights", async () => {
    const refused = await cli("model", "rm", type, "1.0.0");
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/PRECONDITION_FAILED: .*production/);

    json(await cli("model", "alias", "set", type, "production", "2.0.0", "--json"));
    const moved = json<VersionJson>(
      await cli("model", "pull", type, "production", "--out", join(modes.tmp, `${label}-p2`), "--json"),
    );
    expect(moved.version).toBe("2.0.0");
    json(await cli("model", "alias", "rm", type, "production", "--json"));
    expect(json<{ deleted: boolean }>(await cli("model", "rm", type, "1.0.0", "--json")).deleted).toBe(true);

    // 1.0.0's weights are the only blob no version names now (config and vocab are 2.0.0's too).
    const orphan = `blobs/sha256/${sha(weights)}`;
    const dry = json<GcJson>(await cli("model", "gc", "--grace", "0", "--json"));
    expect(dry).toMatchObject({ dryRun: true, blobs: 1, keys: [orphan] });
    const applied = json<GcJson>(await cli("model", "gc", "--apply", "--grace", "0", "--json"));
    expect(applied).toMatchObject({ dryRun: false, blobs: 1, bytes: dry.bytes, keys: [orphan] });
    expect(json<GcJson>(await cli("model", "gc", "--grace", "0", "--json"))).toMatchObject({ blobs: 0 });

    const bad = await cli("model", "gc", "--grace", "soon");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--grace expects/);
  });
}

const modes = describeBothModes("model", workflow);
