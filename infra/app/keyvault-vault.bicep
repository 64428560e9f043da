// A new Key Vault for orgconfig's secrets ({org}--{name}, GLOBAL--{name}): RBAC authorization
// (no access policies), soft delete for 90 days and purge protection, so a deleted secret can
// always be recovered and never destroyed early, not even by the app's own identity.
// main.bicep deploys this module only when no existing vault is given.
param name string
param location string
param tags object

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  // checkov:skip=CKV_AZURE_109: Flex Consumption without VNet integration has no fixed outbound addresses, so neither a firewall rule nor a private endpoint can admit the app; access is by Entra ID role only (RBAC authorization, no access policies). A VNet deployment would add a private endpoint and disable public access
  // checkov:skip=CKV_AZURE_189: Flex Consumption without VNet integration has no fixed outbound addresses, so neither a firewall rule nor a private endpoint can admit the app; access is by Entra ID role only (RBAC authorization, no access policies). A VNet deployment would add a private endpoint and disable public access
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      // Flex Consumption without VNet integration has no fixed outbound addresses: the
      // firewall cannot name the app, so access is governed by Entra ID roles alone.
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

output name string = vault.name
