import socket

import pytest


def test_the_suite_cannot_reach_a_real_platform():
    with pytest.raises(AssertionError, match="tried to look up mastodon.social"):
        socket.getaddrinfo("mastodon.social", 443)
    with pytest.raises(AssertionError, match="tried to connect to 93.184.216.34"), \
            socket.socket() as sock:
        sock.connect(("93.184.216.34", 443))
