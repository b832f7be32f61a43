"""The offline demo: a bundled sample news site and a loopback server that serves it."""
