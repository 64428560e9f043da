"""Floor 2, the stores: the config table, the secret catalog's rows, the vaults and their
routing, the secret store and the vault name index. Imports core, settings and errors."""
