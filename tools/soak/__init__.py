"""``make soak``: a bounded load-and-fault run against two local instances of the app.

Starts Azurite and the Key Vault emulator on free loopback ports and two app instances
(:mod:`tools.soak.instance`, each its own process and resolver) over them, seeds orgs,
config and secrets through the API, then runs phases (:mod:`tools.soak.phases`): a
baseline, the vault refusing, dropping and throttling, the table paused, conditional
writers, and concurrent writes on one instance read back on the other. It prints a table
and fails on any 500, lost update, unrecorded change, outage lengthened by the breaker,
stale read on the second instance, or secret value in either instance's log.
"""
