"""Ray Serve deployments: thin classes around the engines in `adgenesis.engines`."""
