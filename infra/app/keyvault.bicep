// What orgconfig needs on its vault (new from keyvault-vault.bicep, or an existing one, which
// must use RBAC authorization): the app identity's role and the vault's audit logs.
param name string
param identityPrincipalId string
param adminApiWritesSecrets bool
param logAnalyticsWorkspaceId string

// Built-in role definition ids.
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultSecretsOfficer = 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
var appRole = adminApiWritesSecrets ? keyVaultSecretsOfficer : keyVaultSecretsUser

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: name
}

// The resolver needs getSecret and readMetadata (the name index lists names, never values):
// Key Vault Secrets User. The admin API (and the CLI run as this identity) also creates,
// updates, deletes and recovers secrets: Key Vault Secrets Officer, which includes the
// reads. Officer could purge, but purge protection makes that impossible. Scoped to the
// vault because secrets are created at run time (a per-secret scope cannot name them).
resource secretsRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identityPrincipalId, appRole)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', appRole)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    description: adminApiWritesSecrets ? 'orgconfig: resolve and manage secrets' : 'orgconfig: resolve secrets'
  }
}

// Who read or changed which secret, from the vault's side.
resource auditLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'orgconfig-audit'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      { categoryGroup: 'audit', enabled: true }
    ]
    metrics: [
      { category: 'AllMetrics', enabled: true }
    ]
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
