"""AdGenesis Serve: the shared package (typed settings, the design-spec schema, model paths)."""
