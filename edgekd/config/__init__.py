"""Configuration: `schema` holds the typed models (a leaf module), `load` reads YAML files into
them, `checks` resolves plugins and checks what spans several of them.

Import from the submodule you need; this package re-exports nothing, so that importing the
schema never pulls in YAML loading or the plugin registries.
"""
