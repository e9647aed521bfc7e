"""Every service's stable reason codes with their meanings: wire vocabulary.

A code appears in events (``reasons``, ``reason``) and in refused answers (``error``,
``Refusal.code``), so it belongs to the contracts, next to the payloads that carry it, not to the
domain that decides it. Each service's domain imports its own module; the CLI renders the
README's tables from here without importing a service (``python -m grants.reason_codes``).
"""
