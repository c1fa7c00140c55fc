"""The worker: renewals, period credit expiry, autopay, charges left pending, and the holds of
forward calls whose server process died. `lava worker` runs it; `lava serve` runs the same loop
unless `LAVA_SEPARATE_WORKER` is set."""
