import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/config.ts";
import { StorageError } from "../errors.ts";
import { loadUserPolicy, provisionServiceUser, renderUserPolicy } from "./provision.ts";

// biome-ignore lint/suspicious/noTemplateCurlyInString: the literal placeholder the templates use
const PH = "${bucket}";
const POLICIES = fileURLToPath(new URL("../../policies", import.meta.url));

async function codeOf(run: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await run();
  } catch (err) {
    if (err instanceof StorageError) return err.code;
    throw err;
  }
  return undefined;
}

describe("renderUserPolicy", () => {
  it("expands placeholder list entries to one per bucket", () => {
    const rendered = renderUserPolicy(
      {
        Statement: [{ Action: ["s3:GetObject"], Resource: [`arn:aws:s3:::${PH}/*`, "arn:aws:s3:::fixed"] }],
      },
      ["a-1", "b-2"],
    );
    expect(rendered).toEqual({
      Statement: [
        {
          Action: ["s3:GetObject"],
          Resource: ["arn:aws:s3:::a-1/*", "arn:aws:s3:::b-2/*", "arn:aws:s3:::fixed"],
        },
      ],
    });
  });

  it("refuses a placeholder outside a list", () => {
    expect(() => renderUserPolicy({ Resource: `arn:aws:s3:::${PH}` }, ["a"])).toThrow(StorageError);
  });

  it("renders the service template for exactly the service's buckets, no wildcard", async () => {
    const config = loadConfig({ STORAGE_BUCKET_PREFIX: "stg-" });
    const buckets = [...new Set(Object.values(config.buckets))];
    const policy = await loadUserPolicy(POLICIES, "lumenslate-service", buckets);
    const resources = (policy.Statement as { Resource: string[] }[]).flatMap((s) => s.Resource);
    expect(resources).toHaveLength(buckets.length * 2);
    for (const r of resources) expect(r).toMatch(/^arn:aws:s3:::stg-[a-z-]+(\/\*)?$/);
    expect(JSON.stringify(policy)).not.toMatch(/s3:\*|"\*"|arn:aws:s3:::\*/);
  });
});

describe("provisionServiceUser refuses before running mc", () => {
  const minio = { STORAGE_BACKEND: "minio", MINIO_ACCESS_KEY: "svc", MINIO_SECRET_KEY: "svc-secret" };
  it.each([
    [{}, "UNSUPPORTED_OPERATION"],
    [minio, "INVALID_ARGUMENT"],
    [{ ...minio, MINIO_ADMIN_ACCESS_KEY: "svc", MINIO_ADMIN_SECRET_KEY: "root-secret" }, "INVALID_ARGUMENT"],
  ])("%j → %s", async (env, code) => {
    expect(await codeOf(() => provisionServiceUser(loadConfig(env), POLICIES))).toBe(code);
  });
});
