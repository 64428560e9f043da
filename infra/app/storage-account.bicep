// A new storage account for orgconfig: shared keys off (every caller uses Entra ID), TLS 1.2,
// no public blobs, soft delete for blobs and containers. main.bicep deploys this module only
// when no existing account is given; storage.bicep then adds the container, table and roles.
param name string
param location string
param tags object

@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS', 'Standard_RAGRS'])
@description('Replication. The config table is the source of truth for every org: geo-redundant by default.')
param skuName string = 'Standard_GRS'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: skuName }
  // checkov:skip=CKV_AZURE_35: Flex Consumption without VNet integration has no fixed outbound addresses, so the firewall cannot admit the app; shared keys and public blob access are off, so every request needs an Entra ID role
  // checkov:skip=CKV_AZURE_59: Flex Consumption without VNet integration has no fixed outbound addresses, so the firewall cannot admit the app; shared keys and public blob access are off, so every request needs an Entra ID role
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      // Flex Consumption without VNet integration has no fixed outbound addresses, so the
      // firewall cannot name the app; access is by Entra ID role only (shared keys are off).
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: { enabled: true, keyType: 'Account' }
        file: { enabled: true, keyType: 'Account' }
        table: { enabled: true, keyType: 'Account' }
        queue: { enabled: true, keyType: 'Account' }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: 7 }
    containerDeleteRetentionPolicy: { enabled: true, days: 7 }
  }
}

output name string = account.name
