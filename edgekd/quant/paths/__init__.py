"""One file per runtime's int8 tooling (`Int8Path`), registered with `@INT8_PATHS.register`."""
