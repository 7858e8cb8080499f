/**
 * The benchmark's hello-world Worker: the floor of what workerd can answer on this
 * machine. It reads the request body (the benchmark POSTs the same JSON it sends to
 * the ingest path, so both pay the same transfer) and returns a small JSON shaped like
 * ingest's 202 answer; no parsing, no storage, no queue. bench/run.ts measures ingest as
 * a ratio of this.
 */
const ANSWER = JSON.stringify({ id: "00000000-0000-4000-8000-000000000000", severity: "critical" });

export default {
  async fetch(request: Request): Promise<Response> {
    await request.arrayBuffer();
    return new Response(ANSWER, { status: 202, headers: { "content-type": "application/json" } });
  },
};
