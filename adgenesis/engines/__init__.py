"""Model engines: plain Python objects that load a model folder and run it, with no Ray in sight.

Each Serve deployment in `deployments/` is a thin wrapper around one of these, so an engine can be
built, tested and benchmarked on its own (also on a GPU machine without Ray).
"""
