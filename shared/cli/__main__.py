"""``python -m shared.cli``."""

from shared.cli.main import main

raise SystemExit(main())
