// The Microsoft Entra ID application users sign in to (Microsoft Graph Bicep extension). It
// defines the app roles orgconfig checks: PlatformAdmin, and org:{org} for each org in
// memberOrgs. No client secret: App Service authentication presents the app's managed
// identity through a federated identity credential. Assignment is required, so only users
// and groups given one of these roles can sign in at all.
//
// Deploying this needs Graph permission to create applications (e.g. the Application
// Developer directory role). Without it, set createAppRegistration=false and follow the
// README's `az ad app` steps.
extension microsoftGraphV1

param uniqueName string
param displayName string
param redirectUri string
param identityPrincipalId string
param platformAdminPrincipalId string
param memberOrgs array

var platformAdminRoleId = guid(uniqueName, 'PlatformAdmin')
var orgRoles = [for org in memberOrgs: {
  id: guid(uniqueName, 'org:${toLower(org)}')
  value: 'org:${toLower(org)}'
  displayName: 'Member of ${toLower(org)}'
  description: 'May run the workflows of org ${toLower(org)} through POST /api/orgs/${toLower(org)}/workflows/{name}.'
  allowedMemberTypes: ['User', 'Application']
  isEnabled: true
}]

resource application 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  web: {
    redirectUris: [redirectUri]
    implicitGrantSettings: { enableIdTokenIssuance: false, enableAccessTokenIssuance: false }
  }
  api: { requestedAccessTokenVersion: 2 }
  appRoles: concat([
    {
      id: platformAdminRoleId
      value: 'PlatformAdmin'
      displayName: 'Platform administrator'
      description: 'Manages every org\'s config entries and secrets through the admin API and page.'
      allowedMemberTypes: ['User', 'Application']
      isEnabled: true
    }
  ], orgRoles)

  resource managedIdentityCredential 'federatedIdentityCredentials@v1.0' = {
    name: '${application.uniqueName}/app-managed-identity'
    description: 'App Service authentication of the orgconfig Function App (no client secret)'
    audiences: ['api://AzureADTokenExchange']
    issuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
    subject: identityPrincipalId
  }
}

resource servicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: application.appId
  appRoleAssignmentRequired: true
}

resource platformAdmin 'Microsoft.Graph/appRoleAssignedTo@v1.0' = if (!empty(platformAdminPrincipalId)) {
  appRoleId: platformAdminRoleId
  principalId: platformAdminPrincipalId
  resourceId: servicePrincipal.id
}

output clientId string = application.appId
