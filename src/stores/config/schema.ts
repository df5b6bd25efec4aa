import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import { StorageError } from "../../errors.ts";
import type { JsonValue } from "./types.ts";

/**
 * JSON Schema (draft 2020-12) checks with ajv. A schema is compiled when it is put, so a schema
 * ajv cannot compile is refused then, not on the next document put. Compiled validators are kept
 * by the schema's sha256 (a bounded map): the same schema is compiled once per process.
 */

const MAX_COMPILED = 256;
// strict: false lets schemas carry keywords ajv does not know (annotations, vendor extensions);
// formats are not checked (no ajv-formats): a "format" is an annotation here.
const options = { allErrors: true, strict: false, validateFormats: false };
const compiled = new Map<string, ValidateFunction>();

export function compileSchema(schema: JsonValue, sha256: string): ValidateFunction {
  const known = compiled.get(sha256);
  if (known) return known;
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) {
    if (typeof schema !== "boolean") {
      throw new StorageError("INVALID_ARGUMENT", "A JSON Schema must be an object (or true/false).", {
        field: "schema",
      });
    }
  }
  let validate: ValidateFunction;
  try {
    // One ajv per schema: ajv registers schemas by $id, and two names may well reuse one $id.
    validate = new Ajv2020(options).compile(schema as object);
  } catch (err) {
    throw new StorageError(
      "INVALID_ARGUMENT",
      `The JSON Schema does not compile: ${(err as Error).message}`,
      {
        field: "schema",
      },
    );
  }
  if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value as string);
  compiled.set(sha256, validate);
  return validate;
}

/** Refuses a value the schema does not accept, listing the first few violations by path. */
export function checkAgainst(validate: ValidateFunction, value: JsonValue, name: string): void {
  if (validate(value)) return;
  const violations = (validate.errors ?? [])
    .slice(0, 5)
    .map((e) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}`);
  throw new StorageError(
    "INVALID_ARGUMENT",
    `The document does not match the JSON Schema of '${name}': ${violations.join("; ")}.`,
    { field: "content", violations: violations.join("; ") },
  );
}
