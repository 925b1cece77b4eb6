"""Application graphs: where deployments are bound together."""
