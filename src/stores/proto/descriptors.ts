import type { ProtoDefinitions, ProtoDiff } from "./types.ts";

/**
 * What a version defines, read from its compiled image (a FileDescriptorSet in JSON form): the
 * messages, enums and services of the set's own files (imports such as the well-known types are
 * not the version's), by fully-qualified name, and the difference between two versions.
 */

interface FieldJson {
  name?: string;
  number?: number;
}
interface MessageJson {
  name?: string;
  field?: FieldJson[];
  nestedType?: MessageJson[];
  enumType?: Array<{ name?: string }>;
  options?: { mapEntry?: boolean };
}
interface FileJson {
  name?: string;
  package?: string;
  messageType?: MessageJson[];
  enumType?: Array<{ name?: string }>;
  service?: Array<{ name?: string; method?: Array<{ name?: string }> }>;
}

/** Everything a version defines, as sorted fully-qualified names. */
export interface Outline extends ProtoDefinitions {
  /** `package.Message.field`, one per field (map entry types excluded). */
  fields: string[];
}

const join = (scope: string, name: string | undefined) => (scope ? `${scope}.${name ?? ""}` : (name ?? ""));
const sorted = (items: Iterable<string>) => [...items].sort();

export function outline(image: unknown, ownFiles: ReadonlySet<string>): Outline {
  const files = ((image as { file?: FileJson[] } | null)?.file ?? []).filter((f) =>
    ownFiles.has(f.name ?? ""),
  );
  const messages: string[] = [];
  const enums: string[] = [];
  const fields: string[] = [];
  const services: ProtoDefinitions["services"] = [];
  const walk = (scope: string, message: MessageJson) => {
    // Map fields compile to nested *Entry messages: an implementation detail, not a definition.
    if (message.options?.mapEntry) return;
    const name = join(scope, message.name);
    messages.push(name);
    for (const field of message.field ?? []) fields.push(join(name, field.name));
    for (const e of message.enumType ?? []) enums.push(join(name, e.name));
    for (const nested of message.nestedType ?? []) walk(name, nested);
  };
  for (const file of files) {
    const scope = file.package ?? "";
    for (const message of file.messageType ?? []) walk(scope, message);
    for (const e of file.enumType ?? []) enums.push(join(scope, e.name));
    for (const s of file.service ?? []) {
      services.push({ name: join(scope, s.name), methods: (s.method ?? []).map((m) => m.name ?? "") });
    }
  }
  services.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { messages: sorted(messages), enums: sorted(enums), fields: sorted(fields), services };
}

function minus(a: readonly string[], b: readonly string[]): string[] {
  const other = new Set(b);
  return a.filter((x) => !other.has(x));
}

export function diffOutlines(from: string, to: string, before: Outline, after: Outline): ProtoDiff {
  const serviceNames = (o: Outline) => o.services.map((s) => s.name);
  return {
    from,
    to,
    added: {
      messages: minus(after.messages, before.messages),
      services: minus(serviceNames(after), serviceNames(before)),
      fields: minus(after.fields, before.fields),
    },
    removed: {
      messages: minus(before.messages, after.messages),
      services: minus(serviceNames(before), serviceNames(after)),
      fields: minus(before.fields, after.fields),
    },
  };
}
