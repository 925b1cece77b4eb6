"""Build and dev tools: model preparation, the local Ray cluster, `make serve`, `make monitor`.

Nothing here is imported by a Serve replica; the runtime package is `adgenesis`.
"""
