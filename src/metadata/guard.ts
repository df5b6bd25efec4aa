import { StorageError } from "../errors.ts";

/**
 * Runs database work and turns a driver failure into UNAVAILABLE with a message for callers (the
 * driver's error stays as the cause, for logs). StorageErrors pass through unchanged.
 */
export async function guardDb<T>(work: () => Promise<T>, message: string): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof StorageError) throw err;
    throw new StorageError("UNAVAILABLE", message, {}, { cause: err });
  }
}
