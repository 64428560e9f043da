"""Floor 6 (beside the HTTP API), the admin and developer CLI: ``python -m shared.cli``.
Imports admin, the resolver and every floor below; never the HTTP API."""
