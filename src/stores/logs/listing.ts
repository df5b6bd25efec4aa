import type { StorageService } from "../../core/storage-service.ts";
import type { ObjectSummary } from "../../core/types.ts";

/** Every object under a prefix, page by page. */
export async function* listAll(
  service: StorageService,
  bucket: string,
  prefix: string,
): AsyncGenerator<ObjectSummary> {
  let cursor: string | undefined;
  do {
    const page = await service.list(bucket, {
      prefix,
      recursive: true,
      limit: 1000,
      ...(cursor ? { cursor } : {}),
    });
    yield* page.objects;
    cursor = page.nextCursor;
  } while (cursor);
}

/** The next level of "directories" under a prefix (names without the prefix or the trailing "/"). */
export async function childNames(service: StorageService, bucket: string, prefix: string): Promise<string[]> {
  const names: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await service.list(bucket, {
      prefix,
      recursive: false,
      limit: 1000,
      ...(cursor ? { cursor } : {}),
    });
    for (const p of page.prefixes) names.push(p.slice(prefix.length).replace(/\/$/, ""));
    cursor = page.nextCursor;
  } while (cursor);
  return names;
}
