import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { CONFIG_VARIABLES } from "../src/config/config.ts";
import { CHART, findHelm, helm, KUBE_VERSION, type Manifest, renderChart } from "./support/helm.ts";
import { promtool } from "./support/promtool.ts";

// The Helm chart, checked offline: `helm lint` and `helm template` must pass, and the rendered
// manifests must keep the promises the chart makes (probes, non-root, resources, secrets only by
// reference, autoscaling and disruption budget, the bootstrap hook). No cluster is contacted.

const SECRETISH = /PASSWORD|SECRET|TOKEN|ACCESS_KEY|DATABASE_URL/;

let binary: string;
beforeAll(async () => {
  binary = await findHelm();
}, 600_000);

const one = (manifests: Manifest[], kind: string): Manifest => {
  const found = manifests.filter((m) => m.kind === kind);
  expect(found.map((m) => m.kind)).toEqual([kind]);
  return found[0] as Manifest;
};

// biome-ignore lint/suspicious/noExplicitAny: rendered pod specs
const containerOf = (m: Manifest): any => m.spec.template.spec.containers[0];
// biome-ignore lint/suspicious/noExplicitAny: rendered env entries
const envOf = (m: Manifest): Map<string, any> =>
  // biome-ignore lint/suspicious/noExplicitAny: rendered env entries
  new Map(containerOf(m).env.map((e: any) => [e.name, e]));

describe("helm chart", () => {
  it("passes helm lint (strict), with default values and with every option on", async () => {
    const plain = await helm(binary, ["lint", "--strict", CHART, "--kube-version", KUBE_VERSION]);
    expect(plain.code, plain.stdout + plain.stderr).toBe(0);
    const full = await helm(binary, [
      "lint",
      "--strict",
      CHART,
      "--kube-version",
      KUBE_VERSION,
      "--set",
      "serviceMonitor.enabled=true,prometheusRule.enabled=true,tls.enabled=true,tls.secretName=tls,adminKey.existingSecret=admin-key",
    ]);
    expect(full.code, full.stdout + full.stderr).toBe(0);
  });

  describe("rendered with default values", () => {
    let manifests: Manifest[];
    beforeAll(async () => {
      manifests = await renderChart(binary);
    });

    it("renders the deployment, service, config, autoscaler, disruption budget and hook job, and no secret", () => {
      const kinds = manifests.map((m) => m.kind).sort();
      expect(kinds).toEqual(
        [
          "ConfigMap",
          "Deployment",
          "HorizontalPodAutoscaler",
          "Job",
          "PodDisruptionBudget",
          "Service",
          "ServiceAccount",
        ].sort(),
      );
    });

    it("probes readiness on /readyz, liveness on /healthz and start-up on grpc.health.v1", () => {
      const container = containerOf(one(manifests, "Deployment"));
      expect(container.readinessProbe.httpGet).toMatchObject({ path: "/readyz", port: "http" });
      expect(container.livenessProbe.httpGet).toMatchObject({ path: "/healthz", port: "http" });
      expect(container.startupProbe.grpc).toEqual({ port: 50051, service: "" });
      // biome-ignore lint/suspicious/noExplicitAny: rendered ports
      const ports = Object.fromEntries(container.ports.map((p: any) => [p.name, p.containerPort]));
      expect(ports).toEqual({ http: 8080, grpc: 50051 });
    });

    it("runs as a non-root user on a read-only root filesystem with a writable /tmp", () => {
      const deployment = one(manifests, "Deployment");
      const pod = deployment.spec.template.spec;
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
      const container = containerOf(deployment);
      expect(container.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
      });
      // biome-ignore lint/suspicious/noExplicitAny: rendered volumes
      const tmp = pod.volumes.find((v: any) => v.name === "tmp");
      expect(tmp).toEqual({ name: "tmp", emptyDir: {} });
      expect(container.volumeMounts).toContainEqual({ name: "tmp", mountPath: "/tmp" });
    });

    it("sets requests and a memory limit for the service and the job", () => {
      for (const m of [one(manifests, "Deployment"), one(manifests, "Job")]) {
        const { resources } = containerOf(m);
        expect(resources.requests.cpu, m.kind).toBeTruthy();
        expect(resources.requests.memory, m.kind).toBeTruthy();
        expect(resources.limits.memory, m.kind).toBeTruthy();
      }
    });

    it("references credentials through secretKeyRef, never inline, and keeps root credentials out of the pods", () => {
      const deployment = one(manifests, "Deployment");
      const env = envOf(deployment);
      for (const name of ["MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "DATABASE_URL"]) {
        expect(env.get(name)?.valueFrom?.secretKeyRef, name).toEqual({
          name: "rel-lumenslate-storage-env",
          key: name,
        });
      }
      for (const [name, entry] of env) {
        if (SECRETISH.test(name)) expect(entry.value, `${name} is inlined`).toBeUndefined();
      }
      expect([...env.keys()].filter((n) => n.startsWith("MINIO_ADMIN_"))).toEqual([]);
      const config = one(manifests, "ConfigMap").data ?? {};
      expect(Object.keys(config).filter((n) => SECRETISH.test(n))).toEqual([]);
      // The ConfigMap speaks the service's own variable names (src/config/config.ts).
      expect(Object.keys(config).filter((n) => !CONFIG_VARIABLES.includes(n))).toEqual([]);
      expect(config).toMatchObject({ HTTP_PORT: "8080", GRPC_PORT: "50051", STORAGE_BACKEND: "minio" });
      // No operator key given: no admin key is generated (its token would have nowhere safe to go).
      expect(config.AUTH_BOOTSTRAP_ADMIN).toBe("false");
      expect(containerOf(deployment).envFrom).toEqual([{ configMapRef: { name: "rel-lumenslate-storage" } }]);
    });

    it("exposes http and grpc on the service, selecting the deployment's pods", () => {
      const service = one(manifests, "Service");
      // biome-ignore lint/suspicious/noExplicitAny: rendered ports
      const ports = service.spec.ports.map((p: any) => [p.name, p.port, p.targetPort]);
      expect(ports).toEqual([
        ["http", 8080, "http"],
        ["grpc", 50051, "grpc"],
      ]);
      const podLabels = one(manifests, "Deployment").spec.template.metadata.labels;
      expect(podLabels).toMatchObject(service.spec.selector);
    });

    it("scales the deployment with an HPA and protects it with a PDB", () => {
      const deployment = one(manifests, "Deployment");
      const hpa = one(manifests, "HorizontalPodAutoscaler");
      expect(hpa.apiVersion).toBe("autoscaling/v2");
      expect(hpa.spec.scaleTargetRef).toEqual({
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: deployment.metadata.name,
      });
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      // The HPA owns the replica count.
      expect(deployment.spec.replicas).toBeUndefined();
      const pdb = one(manifests, "PodDisruptionBudget");
      expect(pdb.apiVersion).toBe("policy/v1");
      expect(deployment.spec.template.metadata.labels).toMatchObject(pdb.spec.selector.matchLabels);
      expect(pdb.spec.minAvailable).toBeLessThan(hpa.spec.minReplicas);
    });

    it("runs bootstrap --provision-users as a post-install and pre-upgrade hook with the root credentials", () => {
      const job = one(manifests, "Job");
      expect(job.metadata.annotations?.["helm.sh/hook"]?.split(",").sort()).toEqual([
        "post-install",
        "pre-upgrade",
      ]);
      expect(job.metadata.annotations?.["helm.sh/hook-delete-policy"]).toContain("before-hook-creation");
      const container = containerOf(job);
      expect(container.args).toEqual(["bootstrap", "--provision-users"]);
      const env = envOf(job);
      for (const name of ["MINIO_ADMIN_ACCESS_KEY", "MINIO_ADMIN_SECRET_KEY"]) {
        expect(env.get(name)?.valueFrom?.secretKeyRef, name).toEqual({
          name: "rel-lumenslate-storage-minio-admin",
          key: name,
        });
      }
      for (const [name, entry] of env) {
        if (SECRETISH.test(name)) expect(entry.value, `${name} is inlined`).toBeUndefined();
      }
      expect(job.spec.template.spec.restartPolicy).toBe("Never");
      expect(job.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
    });
  });

  it("uses existing secrets, mounts the operator's admin key and renders the ServiceMonitor", async () => {
    const manifests = await renderChart(binary, {
      "secrets.existingSecret": "storage-env",
      "secrets.adminExistingSecret": "minio-root",
      "serviceMonitor.enabled": "true",
      "adminKey.existingSecret": "storage-admin-key",
    });
    expect(manifests.filter((m) => m.kind === "Secret")).toEqual([]);
    const deployment = one(manifests, "Deployment");
    const env = envOf(deployment);
    expect(env.get("MINIO_SECRET_KEY")?.valueFrom?.secretKeyRef.name).toBe("storage-env");
    expect(env.get("DATABASE_URL")?.valueFrom?.secretKeyRef.name).toBe("storage-env");
    expect(envOf(one(manifests, "Job")).get("MINIO_ADMIN_SECRET_KEY")?.valueFrom?.secretKeyRef.name).toBe(
      "minio-root",
    );
    // The first admin key: a file from the operator's Secret, adopted instead of generated.
    expect(one(manifests, "ConfigMap").data?.AUTH_BOOTSTRAP_ADMIN_TOKEN_FILE).toBe(
      "/var/run/lumenslate/admin-key",
    );
    expect(containerOf(deployment).volumeMounts).toContainEqual({
      name: "admin-key",
      mountPath: "/var/run/lumenslate",
      readOnly: true,
    });
    // biome-ignore lint/suspicious/noExplicitAny: rendered volumes
    const volume = deployment.spec.template.spec.volumes.find((v: any) => v.name === "admin-key");
    expect(volume.secret.secretName).toBe("storage-admin-key");
    expect(one(manifests, "ConfigMap").data?.AUTH_BOOTSTRAP_ADMIN).toBe("true");

    const monitor = one(manifests, "ServiceMonitor");
    expect(monitor.apiVersion).toBe("monitoring.coreos.com/v1");
    expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: "http", path: "/metrics" })]);
    expect(one(manifests, "Service").metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
  });

  it("creates the secrets from values only when asked, and refuses to without the values", async () => {
    const refused = await helm(binary, [
      "template",
      "rel",
      CHART,
      "--kube-version",
      KUBE_VERSION,
      "--set",
      "secrets.create=true",
    ]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/secrets\.values\.MINIO_ACCESS_KEY is required/);

    const manifests = await renderChart(binary, {
      "secrets.create": "true",
      "secrets.values.MINIO_ACCESS_KEY": "svc",
      "secrets.values.MINIO_SECRET_KEY": "svc-secret",
      "secrets.values.DATABASE_URL": "postgres://u:p@db:5432/x",
      "secrets.values.MINIO_ADMIN_ACCESS_KEY": "root",
      "secrets.values.MINIO_ADMIN_SECRET_KEY": "root-secret",
    });
    const secrets = manifests.filter((m) => m.kind === "Secret");
    expect(secrets.map((s) => s.metadata.name).sort()).toEqual([
      "rel-lumenslate-storage-env",
      "rel-lumenslate-storage-minio-admin",
    ]);
    const env = secrets.find((s) => s.metadata.name === "rel-lumenslate-storage-env");
    expect(Object.keys(env?.stringData ?? {}).sort()).toEqual([
      "DATABASE_URL",
      "MINIO_ACCESS_KEY",
      "MINIO_SECRET_KEY",
    ]);
    // A changed chart-made Secret rolls the pods.
    expect(one(manifests, "Deployment").spec.template.metadata.annotations["checksum/secret"]).toMatch(
      /^[0-9a-f]{64}$/,
    );
  });

  it("serves TLS from a Secret and then probes over HTTPS (Kubernetes' gRPC probe cannot do TLS)", async () => {
    const manifests = await renderChart(binary, { "tls.enabled": "true", "tls.secretName": "storage-tls" });
    const deployment = one(manifests, "Deployment");
    const container = containerOf(deployment);
    expect(container.startupProbe.grpc).toBeUndefined();
    expect(container.startupProbe.httpGet).toMatchObject({ path: "/healthz", scheme: "HTTPS" });
    expect(container.readinessProbe.httpGet.scheme).toBe("HTTPS");
    expect(one(manifests, "ConfigMap").data).toMatchObject({
      TLS_CERT_FILE: "/etc/lumenslate/tls/tls.crt",
      TLS_KEY_FILE: "/etc/lumenslate/tls/tls.key",
    });
    // biome-ignore lint/suspicious/noExplicitAny: rendered volumes
    const tls = deployment.spec.template.spec.volumes.find((v: any) => v.name === "tls");
    expect(tls.secret.secretName).toBe("storage-tls");
  });

  describe("PrometheusRule", () => {
    // One source of truth: the chart holds a copy of deploy/prometheus/alerts.yml (a chart cannot
    // read outside its directory), which must not drift from the original.
    const SOURCE = join(CHART, "../../prometheus/alerts.yml");
    const COPY = join(CHART, "files/alerts.yml");

    it("the chart's files/alerts.yml is byte-for-byte deploy/prometheus/alerts.yml", async () => {
      const [source, copy] = await Promise.all([readFile(SOURCE, "utf8"), readFile(COPY, "utf8")]);
      expect(copy, "copy deploy/prometheus/alerts.yml to deploy/helm/lumenslate-storage/files/").toBe(source);
    });

    it("is off by default, and when enabled renders exactly alerts.yml's groups, which promtool accepts", async () => {
      expect((await renderChart(binary)).filter((m) => m.kind === "PrometheusRule")).toEqual([]);

      const manifests = await renderChart(binary, {
        "prometheusRule.enabled": "true",
        "prometheusRule.labels.release": "kube-prometheus",
      });
      const rule = one(manifests, "PrometheusRule");
      expect(rule.apiVersion).toBe("monitoring.coreos.com/v1");
      expect(rule.metadata.labels).toMatchObject({ release: "kube-prometheus" });
      const source = parse(await readFile(SOURCE, "utf8")) as { groups: { rules: { alert: string }[] }[] };
      // Prometheus templates ({{ $labels.instance }}) pass through Helm untouched.
      expect(rule.spec.groups).toEqual(source.groups);
      expect(JSON.stringify(rule.spec.groups)).toContain("{{ $labels.instance }}");
      expect(source.groups.flatMap((g) => g.rules).length).toBeGreaterThan(5);

      const dir = await mkdtemp(join(tmpdir(), "lumenslate-rules-"));
      try {
        const file = join(dir, "rendered-rules.yml");
        await writeFile(file, stringify({ groups: rule.spec.groups }));
        const check = await promtool(["check", "rules", file]);
        expect(check.code, check.output).toBe(0);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
