import { access, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import pkg from "../package.json" with { type: "json" };
import { CONFIG_VARIABLES } from "../src/config/config.ts";

// The Compose stacks and the Dockerfile, checked offline (CI has no container engine): the files
// parse, every start-up step waits for the health of the one before, no credential is written
// into them, host ports do not collide, and the distributed file runs the same service over four
// MinIO nodes.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const COMPOSE_DIR = join(ROOT, "deploy/compose");
const SECRETISH = /PASSWORD|SECRET|TOKEN|ACCESS_KEY|ROOT_USER|KMS|DATABASE_URL/;

// biome-ignore lint/suspicious/noExplicitAny: compose documents are walked by the tests
type Service = Record<string, any>;
interface ComposeFile {
  name: string;
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

const load = async (file: string): Promise<{ text: string; doc: ComposeFile }> => {
  const text = await readFile(join(COMPOSE_DIR, file), "utf8");
  // `merge`: the files share settings through YAML anchors and `<<:` merge keys, as Compose reads them.
  return { text, doc: parse(text, { merge: true }) as ComposeFile };
};

/** KEY=value lines of an env file. */
function parseEnvFile(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) vars.set(m[1] as string, m[2] as string);
  }
  return vars;
}

/** Every ${NAME...} a string refers to. */
const referencedVars = (value: string): string[] =>
  [...value.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] as string);

/** Compose interpolation of ${NAME}, ${NAME:-default}, ${NAME:?message} against `env`. */
function interpolate(value: string, env: Map<string, string>): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-?])([^}]*))?\}/g, (_all, name, op, arg) => {
    const set = env.get(name);
    if (set) return set;
    if (op === "-") return arg;
    if (op === "?") throw new Error(`${name} is required: ${arg}`);
    return "";
  });
}

/** Host ports a service publishes ("127.0.0.1:5432:5432" and "8080:8080" forms). */
function hostPorts(service: Service, env: Map<string, string>): string[] {
  return (service.ports ?? []).map((spec: string) => {
    const parts = interpolate(String(spec), env).split(":");
    expect(parts.length, `short port syntax publishes a random port: ${spec}`).toBeGreaterThanOrEqual(2);
    return parts[parts.length - 2] as string;
  });
}

/** name → value of a service's environment (map form only: the list form hides the name in the value). */
function environment(service: Service): Record<string, string> {
  expect(Array.isArray(service.environment), "environment must be a map").toBe(false);
  return service.environment ?? {};
}

const healthcheckText = (service: Service): string => [service.healthcheck?.test ?? []].flat().join(" ");

let standalone: { text: string; doc: ComposeFile };
let distributed: { text: string; doc: ComposeFile };
let envExample: Map<string, string>;
let envExampleText: string;

beforeAll(async () => {
  standalone = await load("docker-compose.yml");
  distributed = await load("docker-compose.distributed.yml");
  envExampleText = await readFile(join(COMPOSE_DIR, ".env.example"), "utf8");
  envExample = parseEnvFile(envExampleText);
});

const files = () =>
  [
    ["docker-compose.yml", standalone],
    ["docker-compose.distributed.yml", distributed],
  ] as const;

describe("compose files", () => {
  it("declare the service, its bootstrap job, PostgreSQL and MinIO", () => {
    expect(Object.keys(standalone.doc.services).sort()).toEqual([
      "bootstrap",
      "minio",
      "postgres",
      "storage",
    ]);
    expect(Object.keys(distributed.doc.services).sort()).toEqual(
      ["bootstrap", "minio", "minio1", "minio2", "minio3", "minio4", "postgres", "storage"].sort(),
    );
  });

  it("give every long-running service a healthcheck; MinIO's means ready for S3, not merely alive", () => {
    for (const [file, { doc }] of files()) {
      for (const [name, service] of Object.entries(doc.services)) {
        if (name === "bootstrap") continue; // one-shot: its exit status is its health
        expect(healthcheckText(service), `${file}: ${name}`).not.toBe("");
        expect(healthcheckText(service), `${file}: ${name}`).not.toMatch(/health\/live/);
        if (name.startsWith("minio")) {
          expect(healthcheckText(service), `${file}: ${name}`).toMatch(
            /mc ready local|\/minio\/health\/cluster/,
          );
        }
      }
      expect(healthcheckText(doc.services.postgres as Service)).toMatch(/pg_isready/);
      expect(healthcheckText(doc.services.storage as Service)).toMatch(/\/healthz/);
    }
  });

  it("start each step only once the steps it needs are healthy (or, for bootstrap, done)", () => {
    for (const [file, { doc }] of files()) {
      for (const [name, service] of Object.entries(doc.services)) {
        if (!service.depends_on) continue;
        // The list form of depends_on waits for nothing but the container's start.
        expect(Array.isArray(service.depends_on), `${file}: ${name}`).toBe(false);
        for (const [dependency, how] of Object.entries(
          service.depends_on as Record<string, { condition?: string }>,
        )) {
          const wanted = dependency === "bootstrap" ? "service_completed_successfully" : "service_healthy";
          expect(how.condition, `${file}: ${name} -> ${dependency}`).toBe(wanted);
        }
      }
      const { storage, bootstrap } = doc.services as Record<string, Service>;
      expect(Object.keys(storage?.depends_on ?? {}).sort()).toEqual(["bootstrap", "minio", "postgres"]);
      expect(Object.keys(bootstrap?.depends_on ?? {}).sort()).toEqual(["minio", "postgres"]);
    }
  });

  it("run bootstrap --provision-users once, with the root credentials that the service never gets", () => {
    for (const [file, { doc }] of files()) {
      const { storage, bootstrap, minio1, minio } = doc.services as Record<string, Service>;
      expect(bootstrap?.command, file).toEqual(["bootstrap", "--provision-users"]);
      expect(bootstrap?.restart, file).toBe("no");
      expect(bootstrap?.image, file).toBe(storage?.image);
      const jobEnv = environment(bootstrap as Service);
      expect(referencedVars(jobEnv.MINIO_ADMIN_ACCESS_KEY ?? "")).toEqual(["MINIO_ADMIN_ACCESS_KEY"]);
      expect(referencedVars(jobEnv.MINIO_ADMIN_SECRET_KEY ?? "")).toEqual(["MINIO_ADMIN_SECRET_KEY"]);
      // The server's root user is the admin pair; the service runs as its own identity.
      const server = environment((minio1 ?? minio) as Service);
      expect(referencedVars(server.MINIO_ROOT_USER ?? "")).toEqual(["MINIO_ADMIN_ACCESS_KEY"]);
      const serviceEnv = environment(storage as Service);
      expect(referencedVars(serviceEnv.MINIO_ACCESS_KEY ?? "")).toEqual(["MINIO_ACCESS_KEY"]);
      expect(referencedVars(serviceEnv.MINIO_SECRET_KEY ?? "")).toEqual(["MINIO_SECRET_KEY"]);
      const rootRefs = Object.values(serviceEnv).flatMap((v) => referencedVars(String(v)));
      expect(rootRefs.filter((v) => v.startsWith("MINIO_ADMIN_"))).toEqual([]);
      expect(Object.keys(serviceEnv).filter((n) => n.startsWith("MINIO_ADMIN_"))).toEqual([]);
    }
  });

  it("hold no literal credential: every secret-like value is a variable reference", () => {
    for (const [file, { doc, text }] of files()) {
      for (const [name, service] of Object.entries(doc.services)) {
        for (const [variable, value] of Object.entries(environment(service))) {
          if (!SECRETISH.test(variable) || variable.endsWith("_FILE")) continue;
          const where = `${file}: ${name}.${variable}`;
          if (variable === "DATABASE_URL") {
            // postgres://user:password@host/db: the password part is a reference.
            const password =
              /^postgres(?:ql)?:\/\/(?:\$\{[^}]*\}|[^:@]+):(.*)@/.exec(String(value))?.[1] ?? "";
            expect(password, where).toMatch(/^\$\{[A-Z_]+(:[-?][^}]*)?\}$/);
          } else {
            expect(String(value), where).toMatch(/^\$\{[A-Z_]+(:[-?][^}]*)?\}$/);
            // A non-empty default would be a credential in the file after all.
            expect(String(value), where).not.toMatch(/:-[^}]/);
          }
        }
      }
      // The sample credentials of /.env.example and MinIO's well-known default.
      expect(text, file).not.toMatch(/lumenslate_minio_secret|minioadmin/);
    }
    // The example env file ships every secret empty.
    for (const [variable, value] of envExample) {
      if (SECRETISH.test(variable) && !variable.endsWith("_ACCESS_KEY")) expect(value, variable).toBe("");
    }
  });

  it("interpolate only variables .env.example documents, and pass the service only names its config knows", () => {
    for (const [file, { text, doc }] of files()) {
      const used = new Set(referencedVars(text));
      expect(
        [...used].filter((v) => !envExample.has(v)),
        file,
      ).toEqual([]);
      for (const name of ["storage", "bootstrap"]) {
        const unknown = Object.keys(environment(doc.services[name] as Service)).filter(
          (v) => !CONFIG_VARIABLES.includes(v),
        );
        expect(unknown, `${file}: ${name}`).toEqual([]);
      }
    }
  });

  it("publish distinct host ports, with the defaults and with .env.example's values", () => {
    for (const env of [new Map<string, string>(), envExample]) {
      for (const [file, { doc }] of files()) {
        const all = Object.values(doc.services).flatMap((s) => hostPorts(s, env));
        expect(all.length, file).toBeGreaterThanOrEqual(4);
        expect(new Set(all).size, `${file}: ${all.join(", ")}`).toBe(all.length);
      }
    }
    // `npm run stack` finds MinIO at MINIO_ENDPOINT / MINIO_CONSOLE_ENDPOINT: the same ports as Compose's.
    expect(envExample.get("MINIO_ENDPOINT")).toBe(`localhost:${envExample.get("MINIO_API_PORT")}`);
    expect(envExample.get("MINIO_CONSOLE_ENDPOINT")).toBe(
      `localhost:${envExample.get("MINIO_CONSOLE_PORT")}`,
    );
    const ports = (name: string) => hostPorts(standalone.doc.services[name] as Service, new Map());
    expect(ports("storage")).toEqual(["8080", "50051"]);
    expect(ports("minio")).toEqual(["9000", "9001"]);
    // The container side is fixed: the host ports are what HTTP_PORT and GRPC_PORT choose.
    expect(environment(standalone.doc.services.storage as Service)).toMatchObject({
      HTTP_PORT: "8080",
      GRPC_PORT: "50051",
    });
    const published = ((standalone.doc.services.storage?.ports ?? []) as string[]).map(referencedVars);
    expect(published).toEqual([["HTTP_PORT"], ["GRPC_PORT"]]);
  });

  it("runs MinIO with the console address and a pinned image", () => {
    const minio = standalone.doc.services.minio as Service;
    expect(minio.command).toEqual(["server", "/data", "--console-address", ":9001"]);
    const image = interpolate(minio.image, new Map());
    expect(image).toMatch(/^[\w./-]+\/minio:RELEASE\.\d{4}-\d{2}-\d{2}T/);
    expect(interpolate(minio.image, envExample)).toBe(image);
  });
});

describe("distributed compose file", () => {
  const nodes = ["minio1", "minio2", "minio3", "minio4"];

  it("runs four erasure-coded MinIO nodes with one endpoint list and two drives each", () => {
    const commands = nodes.map((n) => distributed.doc.services[n]?.command);
    for (const command of commands) {
      expect(command).toEqual(commands[0]);
      expect(command).toContain("http://minio{1...4}/data{1...2}");
      expect(command).toContain("--console-address");
    }
    const mounts = nodes.map((n) =>
      ((distributed.doc.services[n]?.volumes ?? []) as string[]).map((v) => v.split(":")),
    );
    const volumes = mounts.flat().map(([volume]) => volume);
    expect(new Set(volumes).size).toBe(8); // no drive shared between nodes
    for (const nodeMounts of mounts) expect(nodeMounts.map(([, path]) => path)).toEqual(["/data1", "/data2"]);
    for (const volume of volumes) expect(distributed.doc.volumes).toHaveProperty(volume as string);
    const credentials = nodes.map((n) => environment(distributed.doc.services[n] as Service));
    for (const env of credentials) expect(env).toEqual(credentials[0]);
    // Only the balancer is published.
    for (const n of nodes) expect(distributed.doc.services[n]?.ports, n).toBeUndefined();
  });

  it("puts a load balancer named `minio` over all four nodes, waiting for each to be healthy", async () => {
    const balancer = distributed.doc.services.minio as Service;
    expect(Object.keys(balancer.depends_on).sort()).toEqual(nodes);
    const conf = await readFile(join(COMPOSE_DIR, "nginx-minio.conf"), "utf8");
    for (const n of nodes) expect(conf).toContain(`server ${n}:9000`);
    // S3 signatures cover the Host header; the balancer must pass it through unchanged.
    expect(conf).toMatch(/proxy_set_header Host \$http_host;/);
    const mounted = (balancer.volumes as string[]).map((v) => v.split(":")[0]);
    expect(mounted).toContain("./nginx-minio.conf");
  });

  it("runs the very same service, bootstrap job and PostgreSQL as the standalone file", () => {
    for (const name of ["storage", "bootstrap", "postgres"]) {
      expect(distributed.doc.services[name], name).toEqual(standalone.doc.services[name]);
    }
    expect(environment(distributed.doc.services.storage as Service).MINIO_ENDPOINT).toBe("minio:9000");
  });
});

describe("monitoring overlay", () => {
  let monitoring: { text: string; doc: ComposeFile };
  // biome-ignore lint/suspicious/noExplicitAny: Prometheus' configuration, walked by the tests
  let prometheus: any;
  beforeAll(async () => {
    monitoring = await load("docker-compose.monitoring.yml");
    prometheus = parse(await readFile(join(ROOT, "deploy/prometheus/prometheus.yml"), "utf8"));
  });

  /** source → target of a service's bind mounts (relative sources, resolved against deploy/compose). */
  const binds = (service: Service): Map<string, string> =>
    new Map(
      ((service.volumes ?? []) as string[])
        .map((v) => v.split(":"))
        .filter(([source]) => source?.startsWith("."))
        .map(([source, target]) => [resolve(COMPOSE_DIR, source as string), target as string]),
    );

  it("parses, adds Prometheus and Grafana with healthchecks, Grafana waiting for a healthy Prometheus", () => {
    const { services } = monitoring.doc;
    expect(Object.keys(services).sort()).toEqual(["grafana", "prometheus"]);
    for (const [name, service] of Object.entries(services)) {
      expect(healthcheckText(service), name).not.toBe("");
    }
    expect(services.grafana?.depends_on).toEqual({ prometheus: { condition: "service_healthy" } });
    expect(Object.keys(monitoring.doc.volumes)).toEqual(["prometheus-data"]);
  });

  it("mounts only files that exist: the rules, the scrape config, the dashboard and its provisioning", async () => {
    const mounts = Object.values(monitoring.doc.services).flatMap((s) => [...binds(s)]);
    const sources = mounts.map(([source]) => source);
    expect(sources.sort()).toEqual(
      [
        "deploy/grafana/lumenslate-storage.json",
        "deploy/grafana/provisioning",
        "deploy/prometheus/alerts.yml",
        "deploy/prometheus/prometheus.yml",
      ].map((p) => join(ROOT, p)),
    );
    for (const source of sources) await expect(access(source), source).resolves.toBeUndefined();
  });

  it("wires the mounts together: Prometheus loads the mounted rules and scrapes the base stacks' service and MinIO", () => {
    const mounted = binds(monitoring.doc.services.prometheus as Service);
    const rulesAt = mounted.get(join(ROOT, "deploy/prometheus/alerts.yml"))?.replace(/:ro$/, "");
    expect(prometheus.rule_files).toEqual([rulesAt]);
    expect(monitoring.doc.services.prometheus?.command).toContain(
      `--config.file=${mounted.get(join(ROOT, "deploy/prometheus/prometheus.yml"))}`,
    );
    // biome-ignore lint/suspicious/noExplicitAny: scrape configs
    const targets = Object.fromEntries(prometheus.scrape_configs.map((c: any) => [c.job_name, c]));
    expect(targets["lumenslate-storage"]).toMatchObject({
      metrics_path: "/metrics",
      static_configs: [{ targets: ["storage:8080"] }],
    });
    expect(targets.minio).toMatchObject({
      metrics_path: "/minio/v2/metrics/cluster",
      static_configs: [{ targets: ["minio:9000"] }],
    });
    // Those names and ports are the base stacks' own, and their MinIO's metrics need no token.
    for (const [file, { doc }] of files()) {
      expect(environment(doc.services.storage as Service).HTTP_PORT, file).toBe("8080");
      const minio = doc.services.minio1 ?? doc.services.minio;
      expect(environment(minio as Service).MINIO_PROMETHEUS_AUTH_TYPE, file).toBe("public");
    }
  });

  it("provisions Grafana with that Prometheus and the dashboard's directory", async () => {
    const grafana = monitoring.doc.services.grafana as Service;
    const mounted = binds(grafana);
    const provisioning = join(ROOT, "deploy/grafana/provisioning");
    const dashboardAt = mounted.get(join(ROOT, "deploy/grafana/lumenslate-storage.json")) ?? "";
    const providers = parse(await readFile(join(provisioning, "dashboards/lumenslate.yml"), "utf8"));
    expect(providers.providers.map((p: { options: { path: string } }) => p.options.path)).toEqual([
      dirname(dashboardAt.replace(/:ro$/, "")),
    ]);
    const sources = parse(await readFile(join(provisioning, "datasources/prometheus.yml"), "utf8"));
    expect(sources.datasources).toEqual([
      expect.objectContaining({ type: "prometheus", url: "http://prometheus:9090", isDefault: true }),
    ]);
    const dashboard = JSON.parse(
      await readFile(join(ROOT, "deploy/grafana/lumenslate-storage.json"), "utf8"),
    );
    expect(dashboard.panels.length).toBeGreaterThan(0);
  });

  it("takes its password and ports from .env.example's variables, without clashing with the base stacks' ports", () => {
    expect(referencedVars(monitoring.text).filter((v) => !envExample.has(v))).toEqual([]);
    expect(environment(monitoring.doc.services.grafana as Service).GF_SECURITY_ADMIN_PASSWORD).toMatch(
      /^\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]+\}$/,
    );
    for (const env of [new Map<string, string>(), envExample]) {
      const own = Object.values(monitoring.doc.services).flatMap((s) => hostPorts(s, env));
      expect(own).toEqual(["9090", "3000"]);
      for (const [file, { doc }] of files()) {
        const base = Object.values(doc.services).flatMap((s) => hostPorts(s, env));
        expect(
          own.filter((p) => base.includes(p)),
          file,
        ).toEqual([]);
      }
    }
  });
});

describe("Dockerfile", () => {
  let dockerfile: string;
  let dockerignore: string;
  beforeAll(async () => {
    dockerfile = await readFile(join(ROOT, "Dockerfile"), "utf8");
    dockerignore = await readFile(join(ROOT, ".dockerignore"), "utf8");
  });

  it("builds on the Node major package.json pins, with production dependencies only", () => {
    const major = /(\d+)/.exec(pkg.engines.node)?.[1];
    expect(dockerfile).toMatch(new RegExp(`ARG NODE_IMAGE=node:${major}-slim`));
    expect(dockerfile).toMatch(/npm ci --omit=dev --ignore-scripts/);
    // The `node` package would download a second Node 24; the image's own is used.
    expect(dockerfile).toMatch(/rm -rf node_modules\/node /);
  });

  it("runs as a numeric non-root user, with a /healthz HEALTHCHECK and the CLI as entry point", () => {
    const user = /^USER (\S+)/m.exec(dockerfile)?.[1] ?? "";
    const uid = /ARG APP_UID=(\d+)/.exec(dockerfile)?.[1];
    expect(user).toMatch(/^\$\{APP_UID\}:\$\{APP_UID\}$/); // the Dockerfile's own ARG, numeric
    expect(Number(uid)).toBeGreaterThan(0);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n?.*\/healthz/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["lumenslate-storage"\]$/m);
    expect(dockerfile).toMatch(/^CMD \["serve"\]$/m);
    expect(dockerfile).toMatch(/^EXPOSE 8080 50051$/m);
  });

  it("builds from an allow-listed context that never includes .env or ./data", () => {
    expect(dockerignore.split("\n")[2]).toBe("*");
    const allowed = dockerignore.split("\n").filter((l) => l.startsWith("!"));
    expect(allowed.some((l) => /env$|data/.test(l) && l !== "!.env.example")).toBe(false);
    for (const copied of ["package.json", "package-lock.json", "bin/", "src/", "proto/", "policies/"]) {
      expect(allowed).toContain(`!${copied}`);
    }
  });
});
