-- wrk script: GET /healthz, the trivial endpoint measured beside the report endpoint.
done = function(summary, latency, requests)
  io.write(string.format("RESULT req_s=%.0f p50_ms=%.2f p99_ms=%.2f requests=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests))
end
