"""The machinery under every job: rolling-origin backtests, reconciliation, the step-change outlook, clusters."""
