/**
 * .proto sets for the registry's end-to-end suites (gRPC and CLI): a two-file set with an import,
 * then the changes a registry must tell apart: a field added (compatible), a field's type changed
 * (breaking on the wire and in JSON).
 */

export interface ProtoSet {
  [filename: string]: string;
}

export const COMMON = "common/v1/common.proto";
export const BILLING = "billing/v1/billing.proto";

const common = `syntax = "proto3";

package acme.common.v1;

message Money {
  string currency = 1;
  int64 units = 2;
}
`;

const billing = (invoiceFields: string) => `syntax = "proto3";

package acme.billing.v1;

import "${COMMON}";

message Invoice {
${invoiceFields}}

message GetInvoiceRequest {
  string id = 1;
}

service BillingService {
  rpc GetInvoice(GetInvoiceRequest) returns (Invoice);
}
`;

const ID = "  string id = 1;\n";
const TOTAL = "  acme.common.v1.Money total = 2;\n";
const CUSTOMER = "  string customer = 3;\n";

/** v1.0.0: Invoice imports Money from the other file. */
export const V1: ProtoSet = { [COMMON]: common, [BILLING]: billing(ID + TOTAL) };
/** v1.1.0: Invoice.customer added. */
export const V1_1: ProtoSet = { [COMMON]: common, [BILLING]: billing(ID + TOTAL + CUSTOMER) };
/** v2.0.0: Invoice.id changed from string to int64 (and customer kept). */
export const V2_BREAKING: ProtoSet = {
  [COMMON]: common,
  [BILLING]: billing(`  int64 id = 1;\n${TOTAL}${CUSTOMER}`),
};
/** Other content than V1_1 (a comment), for ALREADY_EXISTS under a published version. */
export const V1_1_OTHER: ProtoSet = { ...V1_1, [COMMON]: `// changed\n${common}` };

/** The fully qualified name the diff reports for the added field. */
export const ADDED_FIELD = "acme.billing.v1.Invoice.customer";

export const asFiles = (set: ProtoSet) =>
  Object.entries(set).map(([filename, text]) => ({ filename, content: Buffer.from(text) }));
