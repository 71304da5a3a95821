import { describe, expect, it } from "vitest";
import { MemorySaver } from "@langchain/langgraph";
import { definition, graph, handleTask, splitTasks, writeEmail, WORKERS, type SupportTask } from "../../graphs/multiIntentSupport.js";
import { InMemorySupportDesk } from "../../graphs/lib/supportDesk.js";
import { runWorkflow } from "../../src/facade.js";

const task = (type: string, extra: Partial<SupportTask> = {}): SupportTask => ({ type, text: `${type} request`, invoiceNumber: null, orderId: null, product: null, reason: null, ...extra });

describe("multiIntentSupport nodes", () => {
  it("split_tasks types each request of the message", async () => {
    const { tasks } = await splitTasks({ message: definition.example.message } as any, {});
    expect(tasks.map((t) => t.type)).toEqual(["BillingInquiry", "ProductReturn", "StatusUpdate"]);
    expect(tasks[0].invoiceNumber).toBe("INV-20931");
    expect(tasks[2].orderId).toBe("738201554");
  });

  it("each typed worker acts on the desk: a case, an RMA with instructions, an order lookup", async () => {
    const desk = new InMemorySupportDesk();
    const config = { configurable: { supportDesk: desk } };
    const billing = await handleTask(task("BillingInquiry", { invoiceNumber: "INV-1" }), 0, undefined, config);
    expect(billing).toMatchObject({ status: "done", caseId: "CASE-00001" });
    const ret = await handleTask(task("ProductReturn", { product: "kettle", reason: "leaks" }), 1, undefined, config);
    expect(ret).toMatchObject({ status: "done", rma: "RMA-000001" });
    expect(ret.shippingInstructions).toContain("RMA-000001");
    const status = await handleTask(task("StatusUpdate", { orderId: "55102948" }), 2, undefined, config);
    expect(status.status).toBe("done");
    expect(status.order?.found).toBe(true);
    expect(await handleTask(task("StatusUpdate"), 3, undefined, config)).toMatchObject({ status: "failed" });
    expect(desk.cases).toHaveLength(1);
    expect(desk.returns).toHaveLength(1);
  });

  it("reports a task of a type no worker handles instead of dropping it", async () => {
    expect(Object.keys(WORKERS)).not.toContain("GiftCard");
    const outcome = await handleTask(task("GiftCard"), 0, undefined, {});
    expect(outcome).toMatchObject({ type: "GiftCard", status: "unhandled" });
    const { unhandled } = await writeEmail({ message: "m", reviewerFeedback: null } as any, [outcome], {});
    expect(unhandled).toEqual(["GiftCard: GiftCard request"]);
  });
});

describe("multiIntentSupport graph", () => {
  it("fans out one worker per task and sends one email with every case, RMA and order", async () => {
    const desk = new InMemorySupportDesk();
    const out = await graph.invoke(definition.example, { configurable: { supportDesk: desk } });
    expect(out.outcomes.map((o: { type: string }) => o.type)).toEqual(["BillingInquiry", "ProductReturn", "StatusUpdate"]);
    expect(out.unhandled).toEqual([]);
    expect(desk.emails).toHaveLength(1);
    expect(out.sent).toEqual({ messageId: "MSG-00001", to: "jane@example.com" });
    expect(out.email).toContain("CASE-00001");
    expect(out.email).toContain("RMA-000001");
  });

  it("issues no id twice for one task when the task is retried", async () => {
    // A desk whose first lookup fails after the case and the RMA were issued: the fan-out is retried.
    class FlakyDesk extends InMemorySupportDesk {
      failures = 1;
      override async lookupOrder(orderId: string) {
        if (this.failures-- > 0) throw Object.assign(new Error("upstream timed out"), { status: 503 });
        return super.lookupOrder(orderId);
      }
    }
    const desk = new FlakyDesk();
    const out = await runWorkflow(definition, definition.example, {
      checkpointer: new MemorySaver(),
      threadId: "retry-1",
      configurable: { supportDesk: desk },
    });
    expect(out.outcomes.map((o: { status: string }) => o.status)).toEqual(["done", "done", "done"]);
    expect(desk.cases).toHaveLength(1);
    expect(desk.returns).toHaveLength(1);
    expect(desk.emails).toHaveLength(1);
  });

  it("rejects an empty message naming the field", async () => {
    await expect(runWorkflow(definition, { message: "" })).rejects.toThrow(/message/);
  });
});
