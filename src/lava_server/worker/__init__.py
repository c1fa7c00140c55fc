"""The worker: renewals, period credit expiry, autopay, and charges left pending. `lava worker`
runs it; `lava serve` runs the same loop unless `LAVA_SEPARATE_WORKER` is set."""
