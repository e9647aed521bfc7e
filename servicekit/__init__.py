"""servicekit: what every grants service needs to keep DESIGN.md §4's delivery guarantees.

- ``settings``: environment-driven settings (``GRANTS_*``), read at start-up, never at import.
- ``db``: asyncpg pool and ordered SQL migrations per service database.
- ``outbox``: events written in the state change's transaction, relayed in order to Kafka.
- ``inbox``: dedup by ``event_id`` in the effect's transaction.
- ``consumer``: FastStream subscribers that commit only after the effect, dead-letter poison,
  retry transient errors, and stop when everything is poison.
- ``audit_chain``: the hash-chained audit table every emitted event is appended to.
- ``clock``: system time, or simulated time taken from messages when started in simulation mode.
- ``identity``: signed-token verification (EdDSA/RS256) and the dev token issuer.
- ``http``: FastAPI app with health, refusal mapping and the simulated-time header.
- ``service``: the wiring that turns the above into one service process.
"""
