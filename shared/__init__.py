"""orgconfig: multi-tenant configuration and secret resolution for Azure Functions."""
