// What orgconfig needs in its storage account (new from storage-account.bicep, or an existing
// one, whose settings are left alone): the config table (CONFIG_TABLE_NAME), the Flex
// Consumption deployment container, and the app identity's roles on them.
param name string
param deploymentContainerName string
param tableName string
param identityPrincipalId string

// Built-in role definition ids.
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: name
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: { publicAccess: 'None' }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' existing = {
  parent: account
  name: 'default'
}

resource configTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: tableName
}

// Storage Blob Data Owner on the account: the Functions host keeps its keys and leases in
// blob containers it creates itself (azure-webjobs-*), and Flex Consumption reads the package
// from the deployment container; both run as this identity. Flex requires Owner (not
// Contributor). The account holds no other blobs of ours.
resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, identityPrincipalId, storageBlobDataOwner)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    description: 'orgconfig: Functions host storage and Flex Consumption deployment package'
  }
}

// Storage Table Data Contributor on the config table only (not the account): the resolver
// reads it, the admin API and CLI write entries and the change sentinel (same table). The
// app's create-if-missing of this table is answered "exists", which the role covers at this
// scope; no other table of the account is reachable.
resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(configTable.id, identityPrincipalId, storageTableDataContributor)
  scope: configTable
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    description: 'orgconfig: read and write config entries of the config table'
  }
}

output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output tableEndpoint string = account.properties.primaryEndpoints.table
