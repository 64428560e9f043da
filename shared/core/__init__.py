"""Floor 1, the primitives every other floor builds on: names, typed values, frozen
copies, expiring caches, the circuit breaker, counters and the audit records. Imports only
:mod:`shared.errors`."""
