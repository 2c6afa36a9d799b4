"""Tool sources: manifests and OpenAPI documents fetched safely, operations, tool schemas, executing a call."""
