"""Fast unit tests, one file per framework module: no server, no subprocess."""
