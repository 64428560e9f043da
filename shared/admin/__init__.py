"""Floor 5, what admins and the platform do around the resolver: secret lifecycle, the
catalog's sync, org overview and moves, reference checks, Key Vault events and the reconcile
timer, health probes and the workflow executor. Imports the resolver and every floor below."""
