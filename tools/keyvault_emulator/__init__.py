"""Local emulator of the Azure Key Vault *secrets* REST API, for tests, demos and benchmarks.

Run it with ``python -m tools.keyvault_emulator`` (see README.md); drive its faults and
read its counters from tests with :class:`tools.keyvault_emulator.control.EmulatorControl`.
This package's ``__init__`` stays import-light so test code can import the control client
without pulling in the server's dependencies.
"""

READY_PREFIX = "KEYVAULT_EMULATOR_READY "
