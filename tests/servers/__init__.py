"""Real servers on loopback for the transport tests; each module is a pytest plugin.

`tls` issues certificates from a throw-away CA; `ftps` serves FTP over TLS,
`sftp` an SSH server with its SFTP subsystem, and `graph` an HTTPS stand-in for
the Entra ID token endpoint and the Microsoft Graph mail calls. Every server
binds 127.0.0.1 on a free port and stops when its fixture ends.
"""

import pytest

PLUGINS = ("tls", "retry", "ftps", "sftp", "graph")

# Test modules import these plugins before pytest registers them; rewrite them anyway.
pytest.register_assert_rewrite(*(f"{__name__}.{name}" for name in PLUGINS))
