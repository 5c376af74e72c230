"""The audit trail a reviewer reads: the bundle writer and its hash ledger, ``verify``, the HTML and
Markdown reports, PNG plots, redaction of the configuration log, the environment fingerprint and the
risk taxonomy. It may import ``gating`` and everything below it; never the lab or the pytest
integration."""
