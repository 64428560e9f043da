# azd postdeploy hook: the secret catalog on at once (catalog-on.ps1, best effort), then the
# Key Vault events subscription (wire-keyvault-events.ps1, which provisions once more).
$ErrorActionPreference = 'Stop'
& "$PSScriptRoot/catalog-on.ps1"
& "$PSScriptRoot/wire-keyvault-events.ps1"
