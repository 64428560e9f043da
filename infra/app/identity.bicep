// The app's user-assigned managed identity. User-assigned (not system-assigned) so that its
// role assignments exist before the app first starts, and so App Service authentication can
// use it as a federated credential instead of a client secret.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
