"""Webhooks: a subscription per run (``lifecycle``), an HTTPS/HTTP receiver that verifies
Standard Webhooks deliveries (``receiver``), and the events it hands to the pollers
(``events``). Polling stays the source of truth; events only make it act sooner."""
