/**
 * The support desk the support workflows act on: it opens billing cases,
 * issues return authorisations (RMA numbers), looks up orders, opens
 * escalation tickets and sends emails. A run's desk comes from its config,
 * `configurable.supportDesk` ({@link SUPPORT_DESK_KEY}, read by
 * {@link supportDeskFrom}); nothing is shared between runs.
 *
 * - {@link InMemorySupportDesk}: deterministic, sequential ids (`CASE-00001`),
 *   keeps every record for inspection; give one per run (tests do).
 * - Without a desk in the config, a run uses {@link DEMO_SUPPORT_DESK}: it
 *   keeps nothing, and derives each id from what it is for (`CASE-` and a hash
 *   of the invoice and concern), so that offline runs repeat exactly.
 *
 * Ids are issued by the desk; the workflow calls it through the task ledger
 * (`onceForTask`), so a retried or resumed task never gets a second id.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { ConfigurationError } from "../../src/runtime/errors.js";

/** A billing case. */
export interface SupportCase {
  caseId: string;
  invoiceNumber: string | null;
  concern: string;
}

/** A return authorisation. */
export interface ReturnAuthorisation {
  rma: string;
  product: string;
  reason: string;
  /** What the customer must do to send the product back. */
  shippingInstructions: string;
}

/** What an order lookup finds. */
export interface OrderStatus {
  orderId: string;
  found: boolean;
  status?: "processing" | "shipped" | "out for delivery" | "delivered";
  /** Expected delivery date (YYYY-MM-DD) when not delivered. */
  expectedDelivery?: string;
  carrier?: string;
}

/** An escalation ticket for the product or support team. */
export interface EscalationTicket {
  ticketId: string;
  priority: "high" | "medium" | "low";
  summary: string;
  actions: string[];
}

/** A sent email. */
export interface SentEmail {
  messageId: string;
  to: string;
  body: string;
}

/** The operations the workflow needs. */
export interface SupportDesk {
  openCase(input: { invoiceNumber: string | null; concern: string }): Promise<SupportCase>;
  createReturn(input: { product: string; reason: string }): Promise<ReturnAuthorisation>;
  lookupOrder(orderId: string): Promise<OrderStatus>;
  sendEmail(input: { to: string; body: string }): Promise<SentEmail>;
  createEscalation(input: Omit<EscalationTicket, "ticketId">): Promise<EscalationTicket>;
}

const STATUSES: Array<NonNullable<OrderStatus["status"]>> = ["processing", "shipped", "out for delivery", "delivered"];
const CARRIERS = ["DHL", "UPS", "FedEx"];

/** A deterministic in-memory desk; every issued id and sent email is kept for inspection. */
export class InMemorySupportDesk implements SupportDesk {
  readonly cases: SupportCase[] = [];
  readonly returns: ReturnAuthorisation[] = [];
  readonly emails: SentEmail[] = [];
  readonly lookups: string[] = [];
  readonly escalations: EscalationTicket[] = [];

  /** @param today - The date order ETAs count from (YYYY-MM-DD), fixed for repeatable runs. */
  constructor(private readonly today = "2026-01-15") {}

  async openCase(input: { invoiceNumber: string | null; concern: string }): Promise<SupportCase> {
    const record = { caseId: `CASE-${String(this.cases.length + 1).padStart(5, "0")}`, ...input };
    this.cases.push(record);
    return record;
  }

  async createReturn(input: { product: string; reason: string }): Promise<ReturnAuthorisation> {
    const rma = `RMA-${String(this.returns.length + 1).padStart(6, "0")}`;
    const record = {
      rma,
      ...input,
      shippingInstructions: `Pack the item with its accessories, write ${rma} on the parcel, and drop it at any post office within 30 days; the prepaid label is attached to this email.`,
    };
    this.returns.push(record);
    return record;
  }

  async lookupOrder(orderId: string): Promise<OrderStatus> {
    this.lookups.push(orderId);
    if (!/\d{4,}/.test(orderId)) return { orderId, found: false };
    const h = createHash("sha256").update(orderId).digest();
    const status = STATUSES[h[0] % STATUSES.length];
    const eta = new Date(Date.parse(`${this.today}T00:00:00Z`) + ((h[1] % 7) + 1) * 86_400_000).toISOString().slice(0, 10);
    return { orderId, found: true, status, carrier: CARRIERS[h[2] % CARRIERS.length], ...(status === "delivered" ? {} : { expectedDelivery: eta }) };
  }

  async createEscalation(input: Omit<EscalationTicket, "ticketId">): Promise<EscalationTicket> {
    const record = { ticketId: `ESC-${String(this.escalations.length + 1).padStart(5, "0")}`, ...input };
    this.escalations.push(record);
    return record;
  }

  async sendEmail(input: { to: string; body: string }): Promise<SentEmail> {
    const record = { messageId: `MSG-${String(this.emails.length + 1).padStart(5, "0")}`, ...input };
    this.emails.push(record);
    return record;
  }
}

/** Upper-case hex of the first bytes of the SHA-256 of `parts`. */
function digest(length: number, ...parts: Array<string | null>): string {
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, length).toUpperCase();
}

/**
 * A desk that keeps nothing: every id is derived from what it is for (the
 * same request gives the same id), orders are looked up like
 * {@link InMemorySupportDesk}'s. What a run uses when its config names no desk.
 */
export class DerivedIdSupportDesk implements SupportDesk {
  private readonly lookup: InMemorySupportDesk;

  /** @param today - The date order ETAs count from (YYYY-MM-DD). */
  constructor(today = "2026-01-15") {
    this.lookup = new InMemorySupportDesk(today);
  }

  async openCase(input: { invoiceNumber: string | null; concern: string }): Promise<SupportCase> {
    return { caseId: `CASE-${digest(5, input.invoiceNumber, input.concern)}`, ...input };
  }

  async createReturn(input: { product: string; reason: string }): Promise<ReturnAuthorisation> {
    const rma = `RMA-${digest(6, input.product, input.reason)}`;
    return {
      rma,
      ...input,
      shippingInstructions: `Pack the item with its accessories, write ${rma} on the parcel, and drop it at any post office within 30 days; the prepaid label is attached to this email.`,
    };
  }

  async lookupOrder(orderId: string): Promise<OrderStatus> {
    // InMemorySupportDesk.lookupOrder derives the order from its id; only its `lookups` list would grow.
    const status = await this.lookup.lookupOrder(orderId);
    this.lookup.lookups.length = 0;
    return status;
  }

  async createEscalation(input: Omit<EscalationTicket, "ticketId">): Promise<EscalationTicket> {
    return { ticketId: `ESC-${digest(5, input.priority, input.summary, ...input.actions)}`, ...input };
  }

  async sendEmail(input: { to: string; body: string }): Promise<SentEmail> {
    return { messageId: `MSG-${digest(5, input.to, input.body)}`, ...input };
  }
}

/** The desk of a run whose config names none (keeps nothing; see {@link DerivedIdSupportDesk}). */
export const DEMO_SUPPORT_DESK: SupportDesk = Object.freeze(new DerivedIdSupportDesk());

/** The `configurable` key of a run's {@link SupportDesk}. */
export const SUPPORT_DESK_KEY = "supportDesk";

/** What the support workflows read from a run's `configurable`. */
export interface SupportDeskConfigurable {
  /** The desk the run acts on. Default {@link DEMO_SUPPORT_DESK}. */
  supportDesk?: SupportDesk;
}

const OPERATIONS = ["openCase", "createReturn", "lookupOrder", "sendEmail", "createEscalation"] as const;

/**
 * The desk for a run: `configurable.supportDesk`, else {@link DEMO_SUPPORT_DESK}.
 * @throws {ConfigurationError} when the value lacks one of the desk's operations.
 */
export function supportDeskFrom(config: { configurable?: Record<string, unknown> & SupportDeskConfigurable }): SupportDesk {
  const desk = config.configurable?.[SUPPORT_DESK_KEY];
  if (desk === undefined || desk === null) return DEMO_SUPPORT_DESK;
  const missing = OPERATIONS.filter((op) => typeof (desk as unknown as Record<string, unknown>)[op] !== "function");
  if (missing.length) throw new ConfigurationError(`configurable.${SUPPORT_DESK_KEY}`, `a SupportDesk (missing ${missing.join(", ")})`, typeof desk);
  return desk;
}
