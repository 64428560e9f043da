// orgconfig on Azure: `azd up` provisions this, then deploys the function app.
//
// Function App (Flex Consumption, Python 3.11) running as a user-assigned managed identity;
// Storage (config table + host/deployment blobs) and Key Vault reached by that identity only;
// Application Insights over Log Analytics (Entra ID ingestion); an Event Grid system topic on
// the vault feeding the `keyvault_events` function; App Service authentication with Microsoft
// Entra ID and the app roles `PlatformAdmin` / `org:{org}`.
//
// No parameter or output holds a secret. See README.md "Deploy to Azure" for every role
// assignment and why it is the least that works.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name: resource names and the azd-env-name tag derive from it.')
param environmentName string

@minLength(1)
@description('Region of every new resource; it must offer Flex Consumption (az functionapp list-flexconsumption-locations).')
@metadata({ azd: { type: 'location' } })
param location string

@description('Resource group to create or reuse; empty: rg-{environmentName}.')
param resourceGroupName string = ''

@description('Use this existing Key Vault (it must use RBAC authorization) instead of creating one; empty creates one.')
param existingKeyVaultName string = ''

@description('Resource group of existingKeyVaultName; empty: the app\'s resource group.')
param existingKeyVaultResourceGroupName string = ''

@description('Use this existing storage account for the config table and the host instead of creating one; empty creates one. Its shared-key setting is left as it is: the app uses its identity either way.')
param existingStorageAccountName string = ''

@description('Resource group of existingStorageAccountName; empty: the app\'s resource group.')
param existingStorageResourceGroupName string = ''

@description('Name of the config table (setting CONFIG_TABLE_NAME).')
param configTableName string = 'Config'

@description('true: the app identity gets Key Vault Secrets Officer, so the admin API can create, rotate and delete secrets. false: Key Vault Secrets User (read only); secrets are then written by operators with their own identity.')
param adminApiWritesSecrets bool = true

@description('Create the Event Grid subscription that sends secret events to keyvault_events. Event Grid checks that the function exists, so the first `azd up` leaves this false and the postdeploy hook provisions again with true.')
param wireKeyVaultEvents bool = false

@description('Register the Entra ID application (app roles, sign-in) with the Microsoft Graph Bicep extension. false: an administrator registers it (README) and passes its client id in authClientId.')
param createAppRegistration bool = true

@description('Client (application) id of an existing Entra ID app registration, used when createAppRegistration is false. Not a secret.')
param authClientId string = ''

@description('Object id of a user or group that gets the PlatformAdmin app role (azd passes the signed-in user); empty: grant it later.')
param platformAdminPrincipalId string = ''

@description('Comma-separated org ids that get an app role org:{org} (its members may run that org\'s workflows), e.g. "acme,contoso".')
param memberOrgs string = ''

@minValue(40)
@maxValue(1000)
@description('Flex Consumption scale-out limit.')
param maximumInstanceCount int = 40

@allowed([512, 2048, 4096])
@description('Flex Consumption instance size (MB).')
param instanceMemoryMB int = 2048

@description('Spread the Function App over availability zones (only where Flex Consumption offers it: az functionapp list-flexconsumption-locations --zone-redundant).')
param zoneRedundant bool = false

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var appName = '${abbrs.functionApp}${resourceToken}'
var rgName = !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourceGroup}${environmentName}'
var vaultRgName = !empty(existingKeyVaultResourceGroupName) ? existingKeyVaultResourceGroupName : rgName
var storageRgName = !empty(existingStorageResourceGroupName) ? existingStorageResourceGroupName : rgName
var keyVaultName = !empty(existingKeyVaultName) ? existingKeyVaultName : '${abbrs.keyVault}${resourceToken}'
var storageAccountName = !empty(existingStorageAccountName) ? existingStorageAccountName : '${abbrs.storageAccount}${resourceToken}'
// Flex Consumption pulls the app package from this blob container.
var deploymentContainerName = 'app-package-${take(appName, 32)}-${take(resourceToken, 7)}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: rgName
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.userAssignedIdentity}${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.logAnalytics}${resourceToken}'
    applicationInsightsName: '${abbrs.applicationInsights}${resourceToken}'
    location: location
    tags: tags
    identityPrincipalId: identity.outputs.principalId
  }
}

module newStorage 'app/storage-account.bicep' = if (empty(existingStorageAccountName)) {
  name: 'storage-account'
  scope: rg
  params: {
    name: storageAccountName
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: resourceGroup(storageRgName)
  dependsOn: [rg, newStorage]
  params: {
    name: storageAccountName
    deploymentContainerName: deploymentContainerName
    tableName: configTableName
    identityPrincipalId: identity.outputs.principalId
  }
}

module newKeyVault 'app/keyvault-vault.bicep' = if (empty(existingKeyVaultName)) {
  name: 'keyvault-vault'
  scope: rg
  params: {
    name: keyVaultName
    location: location
    tags: tags
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: resourceGroup(vaultRgName)
  dependsOn: [rg, newKeyVault]
  params: {
    name: keyVaultName
    identityPrincipalId: identity.outputs.principalId
    adminApiWritesSecrets: adminApiWritesSecrets
    logAnalyticsWorkspaceId: monitoring.outputs.logAnalyticsWorkspaceId
  }
}

module entra 'app/entra.bicep' = if (createAppRegistration) {
  name: 'entra'
  scope: rg
  params: {
    uniqueName: 'orgconfig-${resourceToken}'
    displayName: 'orgconfig (${environmentName})'
    redirectUri: 'https://${appName}.azurewebsites.net/.auth/login/aad/callback'
    identityPrincipalId: identity.outputs.principalId
    platformAdminPrincipalId: platformAdminPrincipalId
    memberOrgs: empty(memberOrgs) ? [] : split(replace(memberOrgs, ' ', ''), ',')
  }
}

module function 'app/function.bicep' = {
  name: 'function'
  scope: rg
  params: {
    name: appName
    planName: '${abbrs.appServicePlan}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    configTableName: configTableName
    keyVaultUri: keyVault.outputs.uri
    authClientId: createAppRegistration ? entra.outputs.clientId : authClientId
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    zoneRedundant: zoneRedundant
  }
}

module events 'app/events.bicep' = {
  name: 'keyvault-events'
  scope: resourceGroup(vaultRgName)
  params: {
    topicName: '${abbrs.eventGridSystemTopic}${keyVaultName}'
    keyVaultName: keyVault.outputs.name
    tags: tags
    functionAppId: function.outputs.id
    subscribe: wireKeyVaultEvents
  }
}

// Outputs become azd environment values: names and URLs only, never a key or secret.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = function.outputs.name
output SERVICE_API_URI string = function.outputs.uri
output ORGCONFIG_ADMIN_PAGE string = '${function.outputs.uri}/api/admin'
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_URL string = keyVault.outputs.uri
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output CONFIG_STORAGE_ENDPOINT string = storage.outputs.tableEndpoint
output CONFIG_TABLE_NAME string = configTableName
output AUTH_CLIENT_ID string = createAppRegistration ? entra.outputs.clientId : authClientId
