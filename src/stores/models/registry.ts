import { type ExpressionBuilder, sql } from "kysely";
import { decodeCursor, encodeCursor } from "../../cursor.ts";
import { StorageError } from "../../errors.ts";
import type { Database } from "../../metadata/database.ts";
import { guardDb } from "../../metadata/guard.ts";
import { LATEST } from "./names.ts";
import { type ModelDatabase, type ModelTables, modelDb } from "./tables.ts";
import type { Encoding, ModelFile, ModelListFilter, ModelMetadata, ModelVersion } from "./types.ts";

/**
 * Manifests, versions and aliases in PostgreSQL (tables.ts). `latest` is not stored: it is the
 * newest version of its type, so it moves by itself when a version is published or deleted, and
 * never holds a version back from deletion.
 */

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
/** Rows per INSERT: well under PostgreSQL's 65,535 bind parameters. */
const INSERT_CHUNK = 1000;
/** Metadata members that are plain strings at the top level; other keys are looked up in `extra`. */
const TOP_LEVEL_STRINGS = new Set(["framework", "description", "parentVersion"]);

type VersionRow = {
  id: string | number;
  model_type: string;
  version: string;
  metadata: unknown;
  uploader: string;
  created_at: Date;
};

const notFound = (message: string, field: string) => new StorageError("NOT_FOUND", message, { field });

export class Registry {
  readonly #db: ModelDatabase;
  readonly #bucket: string;

  constructor(db: Database, bucket: string) {
    this.#db = modelDb(db);
    this.#bucket = bucket;
  }

  #guard<T>(work: () => Promise<T>): Promise<T> {
    return guardDb(work, "The model registry is unavailable: the database could not be reached.");
  }

  /** Records a version and its files at once; ALREADY_EXISTS if the version exists (versions never change). */
  insert(v: Omit<ModelVersion, "aliases" | "createdAt">): Promise<void> {
    return this.#guard(() =>
      this.#db.transaction().execute(async (tx) => {
        const inserted = await tx
          .insertInto("model_versions")
          .values({
            bucket: this.#bucket,
            model_type: v.modelType,
            version: v.version,
            metadata: JSON.stringify(v.metadata),
            uploader: v.uploader,
          })
          .onConflict((oc) => oc.columns(["bucket", "model_type", "version"]).doNothing())
          .returning("id")
          .executeTakeFirst();
        if (!inserted) {
          throw new StorageError(
            "ALREADY_EXISTS",
            `Version ${v.version} of '${v.modelType}' exists; versions never change: publish a new one.`,
            { field: "version" },
          );
        }
        for (let i = 0; i < v.files.length; i += INSERT_CHUNK) {
          await tx
            .insertInto("model_files")
            .values(
              v.files.slice(i, i + INSERT_CHUNK).map((f) => ({
                bucket: this.#bucket,
                model_type: v.modelType,
                version: v.version,
                path: f.path,
                sha256: f.sha256,
                size: f.size,
                stored_size: f.storedSize,
                encoding: f.encoding,
              })),
            )
            .execute();
        }
      }),
    );
  }

  /** A version by name, by alias, or "latest"; NOT_FOUND otherwise. */
  async resolve(modelType: string, ref: string): Promise<ModelVersion> {
    const row = await this.#guard(async () => {
      const base = this.#db
        .selectFrom("model_versions")
        .selectAll()
        .where("bucket", "=", this.#bucket)
        .where("model_type", "=", modelType);
      if (ref === LATEST) return base.orderBy("id", "desc").limit(1).executeTakeFirst();
      const byName = await base.where("version", "=", ref).executeTakeFirst();
      if (byName) return byName;
      return base
        .where("version", "=", (eb) =>
          eb
            .selectFrom("model_aliases")
            .select("model_aliases.version")
            .where("model_aliases.bucket", "=", this.#bucket)
            .where("model_aliases.model_type", "=", modelType)
            .where("model_aliases.alias", "=", ref),
        )
        .executeTakeFirst();
    });
    if (!row) {
      throw notFound(
        ref === LATEST
          ? `No version of '${modelType}' exists.`
          : `'${modelType}' has no version or alias '${ref}'.`,
        ref === LATEST ? "modelType" : "ref",
      );
    }
    const [version] = await this.#complete([row]);
    return version as ModelVersion;
  }

  async list(filter: ModelListFilter): Promise<{ versions: ModelVersion[]; nextCursor?: string }> {
    const limit = Math.min(Math.max(filter.limit ?? DEFAULT_PAGE, 1), MAX_PAGE);
    const after = filter.cursor !== undefined ? cursorId(filter.cursor) : undefined;
    const rows = await this.#guard(() => {
      let q = this.#db.selectFrom("model_versions").selectAll().where("bucket", "=", this.#bucket);
      if (filter.modelType !== undefined) q = q.where("model_type", "=", filter.modelType);
      if (filter.tag !== undefined) q = q.where(contains({ tags: [filter.tag] }));
      if (filter.metadata !== undefined) {
        const { key, value } = filter.metadata;
        q = q.where((eb) =>
          eb.or([
            contains({ extra: { [key]: value } })(eb),
            ...(TOP_LEVEL_STRINGS.has(key) ? [contains({ [key]: value })(eb)] : []),
          ]),
        );
      }
      if (filter.createdAfter !== undefined) q = q.where("created_at", ">", filter.createdAfter);
      if (after !== undefined) q = q.where("id", "<", after);
      return q
        .orderBy("id", "desc")
        .limit(limit + 1)
        .execute();
    });
    const page = rows.slice(0, limit);
    const versions = await this.#complete(page);
    const last = page.at(-1);
    return rows.length > limit && last
      ? { versions, nextCursor: encodeCursor(String(last.id)) }
      : { versions };
  }

  /** Removes a version; refused (PRECONDITION_FAILED, naming them) while named aliases point at it, unless forced. */
  delete(modelType: string, version: string, force: boolean): Promise<void> {
    return this.#guard(() =>
      this.#db.transaction().execute(async (tx) => {
        const row = await tx
          .selectFrom("model_versions")
          .select("id")
          .where("bucket", "=", this.#bucket)
          .where("model_type", "=", modelType)
          .where("version", "=", version)
          .forUpdate()
          .executeTakeFirst();
        if (!row) throw notFound(`Version ${version} of '${modelType}' does not exist.`, "version");
        const aliases = await tx
          .selectFrom("model_aliases")
          .select("alias")
          .where("bucket", "=", this.#bucket)
          .where("model_type", "=", modelType)
          .where("version", "=", version)
          .orderBy("alias")
          .execute();
        if (aliases.length > 0 && !force) {
          const names = aliases.map((a) => a.alias).join(", ");
          throw new StorageError(
            "PRECONDITION_FAILED",
            `Version ${version} of '${modelType}' is what alias ${names} points at: move the alias first, or force the delete.`,
            { field: "version", aliases: names },
          );
        }
        // Files and aliases go with it (on delete cascade); its blobs stay until gc finds them unreferenced.
        await tx
          .deleteFrom("model_versions")
          .where("bucket", "=", this.#bucket)
          .where("model_type", "=", modelType)
          .where("version", "=", version)
          .execute();
      }),
    );
  }

  setAlias(modelType: string, alias: string, version: string): Promise<void> {
    return this.#guard(() =>
      this.#db.transaction().execute(async (tx) => {
        const names = await tx
          .selectFrom("model_versions")
          .select("version")
          .where("bucket", "=", this.#bucket)
          .where("model_type", "=", modelType)
          .where("version", "in", [version, alias])
          .forShare()
          .execute();
        if (!names.some((n) => n.version === version)) {
          throw notFound(`Version ${version} of '${modelType}' does not exist.`, "version");
        }
        if (names.some((n) => n.version === alias)) {
          // Versions resolve before aliases: this alias could never be reached.
          throw new StorageError(
            "ALREADY_EXISTS",
            `'${modelType}' has a version named '${alias}'; pick another alias name.`,
            { field: "alias" },
          );
        }
        await tx
          .insertInto("model_aliases")
          .values({ bucket: this.#bucket, model_type: modelType, alias, version })
          .onConflict((oc) =>
            oc.columns(["bucket", "model_type", "alias"]).doUpdateSet({ version, updated_at: new Date() }),
          )
          .execute();
      }),
    );
  }

  async removeAlias(modelType: string, alias: string): Promise<void> {
    const result = await this.#guard(() =>
      this.#db
        .deleteFrom("model_aliases")
        .where("bucket", "=", this.#bucket)
        .where("model_type", "=", modelType)
        .where("alias", "=", alias)
        .executeTakeFirst(),
    );
    if (Number(result.numDeletedRows) === 0)
      throw notFound(`'${modelType}' has no alias '${alias}'.`, "alias");
  }

  /** Which of these content sha256s some version's file references. */
  async referenced(sha256s: readonly string[]): Promise<Set<string>> {
    if (sha256s.length === 0) return new Set();
    const rows = await this.#guard(() =>
      this.#db
        .selectFrom("model_files")
        .select("sha256")
        .distinct()
        .where("bucket", "=", this.#bucket)
        .where("sha256", "in", sha256s)
        .execute(),
    );
    return new Set(rows.map((r) => r.sha256));
  }

  /** Files, aliases and "latest" for a page of version rows. */
  async #complete(rows: VersionRow[]): Promise<ModelVersion[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => String(r.id));
    const types = [...new Set(rows.map((r) => r.model_type))];
    const [files, aliases, newest] = await this.#guard(() =>
      Promise.all([
        this.#db
          .selectFrom("model_files as f")
          .innerJoin("model_versions as v", (j) =>
            j
              .onRef("v.bucket", "=", "f.bucket")
              .onRef("v.model_type", "=", "f.model_type")
              .onRef("v.version", "=", "f.version"),
          )
          .select(["v.id", "f.path", "f.sha256", "f.size", "f.stored_size", "f.encoding"])
          .where("v.id", "in", ids)
          .orderBy("f.path")
          .execute(),
        this.#db
          .selectFrom("model_aliases as a")
          .innerJoin("model_versions as v", (j) =>
            j
              .onRef("v.bucket", "=", "a.bucket")
              .onRef("v.model_type", "=", "a.model_type")
              .onRef("v.version", "=", "a.version"),
          )
          .select(["v.id", "a.alias"])
          .where("v.id", "in", ids)
          .orderBy("a.alias")
          .execute(),
        this.#db
          .selectFrom("model_versions")
          .select((eb) => eb.fn.max("id").as("id"))
          .where("bucket", "=", this.#bucket)
          .where("model_type", "in", types)
          .groupBy("model_type")
          .execute(),
      ]),
    );
    const latest = new Set(newest.map((n) => String(n.id)));
    const filesOf = Map.groupBy(files, (f) => String(f.id));
    const aliasesOf = Map.groupBy(aliases, (a) => String(a.id));
    return rows.map((r) => {
      const id = String(r.id);
      return {
        modelType: r.model_type,
        version: r.version,
        files: (filesOf.get(id) ?? []).map(toFile),
        metadata: (typeof r.metadata === "string" ? JSON.parse(r.metadata) : r.metadata) as ModelMetadata,
        uploader: r.uploader,
        createdAt: r.created_at,
        aliases: [...(latest.has(id) ? [LATEST] : []), ...(aliasesOf.get(id) ?? []).map((a) => a.alias)],
      };
    });
  }
}

const toFile = (f: {
  path: string;
  sha256: string;
  size: string | number;
  stored_size: string | number;
  encoding: string;
}): ModelFile => ({
  path: f.path,
  size: Number(f.size),
  sha256: f.sha256,
  storedSize: Number(f.stored_size),
  encoding: f.encoding as Encoding,
});

/** jsonb containment (`@>`), which the GIN index on metadata answers. */
const contains =
  (fragment: Record<string, unknown>) => (_eb: ExpressionBuilder<ModelTables, "model_versions">) =>
    sql<boolean>`metadata @> ${JSON.stringify(fragment)}::jsonb`;

function cursorId(cursor: string): string {
  const id = decodeCursor(cursor);
  if (!/^[1-9][0-9]{0,18}$/.test(id)) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      "The list cursor is not valid; pass the nextCursor of a previous page.",
      {
        field: "cursor",
      },
    );
  }
  return id;
}
