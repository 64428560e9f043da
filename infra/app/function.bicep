// The Function App on Flex Consumption (Python 3.11), running as the user-assigned identity,
// behind App Service authentication (Microsoft Entra ID).
//
// App settings are only what orgconfig reads (see shared/settings.py and the README's settings
// table) plus what the platform needs to reach storage and Application Insights by identity.
// On Flex Consumption the runtime and its version live in functionAppConfig: the settings
// FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION and WEBSITE_RUN_FROM_PACKAGE are
// deprecated there and must not be set. tests/test_infra.py checks the names.
param name string
param planName string
param location string
param tags object
param identityId string
param identityClientId string
param applicationInsightsName string
param storageAccountName string
param storageBlobEndpoint string
param storageTableEndpoint string
param deploymentContainerName string
param configTableName string
param keyVaultUri string
@description('Client id of the Entra ID app registration users sign in to (not a secret).')
param authClientId string
param maximumInstanceCount int
param instanceMemoryMB int
@description('Spread instances over availability zones (regions that offer it for Flex Consumption).')
param zoneRedundant bool = false

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  // checkov:skip=CKV_AZURE_225: zone redundancy is the zoneRedundant parameter (main.bicep), off by default because only some regions offer it for Flex Consumption
  properties: { reserved: true, zoneRedundant: zoneRedundant }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  // checkov:skip=CKV_AZURE_222: public by design: browsers reach the admin page and Event Grid delivers events; every route but health/openapi/admin needs Entra ID sign-in and a function key
  // checkov:skip=CKV_AZURE_17: callers authenticate with Microsoft Entra ID (authsettingsV2 below); client certificates would break browser sign-in
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales instances itself (from zero); numberOfWorkers does not apply
  // checkov:skip=CKV_AZURE_213: App Service health check (instance replacement) does not apply to Flex Consumption; GET /api/health is the liveness route
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [
        // -- the Functions host: storage and telemetry by identity ----------------------
        { name: 'AzureWebJobsStorage__accountName', value: storageAccountName }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsights.properties.ConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
        // host.json's telemetryMode OpenTelemetry: the worker joins the host's traces;
        // app_telemetry.py exports the app's spans, metrics and audit through the distro.
        { name: 'PYTHON_ENABLE_OPENTELEMETRY', value: 'true' }
        // DefaultAzureCredential (table and vault clients) picks the user-assigned identity.
        { name: 'AZURE_CLIENT_ID', value: identityClientId }
        // App Service authentication proves itself to Entra ID with this identity's
        // federated credential instead of a client secret.
        { name: 'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID', value: identityClientId }
        // -- orgconfig (shared/settings.py) ---------------------------------------------
        { name: 'CONFIG_STORAGE_ENDPOINT', value: storageTableEndpoint }
        { name: 'CONFIG_TABLE_NAME', value: configTableName }
        { name: 'AZURE_KEY_VAULT_URL', value: keyVaultUri }
        { name: 'AZURE_FUNCTIONS_ENVIRONMENT', value: 'Production' }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: { name: 'python', version: '3.11' }
    }
  }
}

// App Service authentication ("EasyAuth"): browsers are sent to Microsoft Entra ID sign-in;
// the signed-in user's app roles (PlatformAdmin, org:{org}) reach the app in
// X-MS-CLIENT-PRINCIPAL, which the platform strips from client requests, and the platform
// sets WEBSITE_AUTH_ENABLED so the app trusts it. Liveness, the OpenAPI document and Event
// Grid's delivery endpoint (guarded by the function's system key) are excluded.
resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13: false positive: checkov reads the v1 authsettings shape (properties.enabled); this is authsettingsV2 with platform.enabled true
  // checkov:skip=CKV_AZURE_63: these are web config settings (IIS logs), not authentication; the app logs to Application Insights
  // checkov:skip=CKV_AZURE_65: these are web config settings (IIS logs), not authentication; the app logs to Application Insights
  parent: site
  // checkov:skip=CKV_AZURE_66: these are web config settings (IIS logs), not authentication; the app logs to Application Insights
  // checkov:skip=CKV_AZURE_80: not applicable to an authentication config (and a Python app on Flex Consumption has no .NET version nor Azure Files content share)
  name: 'authsettingsV2'
  // checkov:skip=CKV_AZURE_88: not applicable to an authentication config (and a Python app on Flex Consumption has no .NET version nor Azure Files content share)
  // checkov:skip=CKV_AZURE_222: not a network setting; see the site resource
  properties: {
    platform: { enabled: true }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'RedirectToLoginPage'
      redirectToProvider: 'azureactivedirectory'
      excludedPaths: [
        '/api/health'
        '/api/openapi.json'
        '/runtime/webhooks/EventGrid'
        '/runtime/webhooks/eventgrid'
        // the postdeploy hook runs the catalog reconcile once (infra/hooks/catalog-on.sh):
        // the Functions admin API, which the host guards with the master key
        '/admin/functions/catalog_reconcile'
      ]
    }
    httpSettings: {
      requireHttps: true
      forwardProxy: { convention: 'NoProxy' }
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: authClientId
          clientSecretSettingName: 'OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID'
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [authClientId, 'api://${authClientId}']
        }
        login: { disableWWWAuthenticate: false }
      }
    }
    login: {
      tokenStore: { enabled: true }
      preserveUrlFragmentsForLogins: true
    }
  }
}

output id string = site.id
output name string = site.name
output uri string = 'https://${site.properties.defaultHostName}'
