import { createTestApp } from "./support/app.ts";
import { describeServiceContract } from "./support/service-contract.ts";

describeServiceContract("MinIO", () => createTestApp("minio"));
