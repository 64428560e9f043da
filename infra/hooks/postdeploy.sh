#!/bin/sh
# azd postdeploy hook: the secret catalog on at once (catalog-on.sh, best effort), then the
# Key Vault events subscription (wire-keyvault-events.sh, which provisions once more).
set -eu
here=$(dirname "$0")
sh "$here/catalog-on.sh"
sh "$here/wire-keyvault-events.sh"
