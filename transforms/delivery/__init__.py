"""Delivery to a destination: sink (ToRequests, Batch, Deliver, Preview), http_delivery (retries,
backoff, the shared rate), circuit_breaker (outages), key_check, secrets (where a key comes from),
and destinations/ (one module per destination). May import common and outputs; never a stage.
Shared code here names no destination."""
