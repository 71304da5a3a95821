/**
 * The support desk the support workflows act on: it opens billing cases,
 * issues return authorisations (RMA numbers), looks up orders, opens
 * escalation tickets and sends emails. {@link InMemorySupportDesk} is deterministic (sequential ids, order
 * data derived from the order id) so that tests and offline runs repeat
 * exactly; inject another implementation through the run config
 * (`configurable.supportDesk`) or {@link setDefaultSupportDesk}.
 *
 * Ids are issued by the desk; the workflow calls it through the task ledger
 * (`onceForTask`), so a retried or resumed task never gets a second id.
 *
 * @module
 */
import { createHash } from "node:crypto";

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

let defaultDesk: SupportDesk = new InMemorySupportDesk();

/** The desk runs use when their config names none. */
export function getDefaultSupportDesk(): SupportDesk {
  return defaultDesk;
}

/** Replaces the default desk (returns the previous one). */
export function setDefaultSupportDesk(desk: SupportDesk): SupportDesk {
  const previous = defaultDesk;
  defaultDesk = desk;
  return previous;
}

/** The desk for a run: `configurable.supportDesk`, else the default. */
export function supportDeskFrom(config: { configurable?: Record<string, unknown> }): SupportDesk {
  return (config.configurable?.supportDesk as SupportDesk | undefined) ?? defaultDesk;
}
