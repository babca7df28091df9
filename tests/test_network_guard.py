import socket

import pytest

from tests.conftest import OutsideNetwork


def test_the_suite_cannot_reach_a_real_platform():
    with pytest.raises(OutsideNetwork):
        socket.getaddrinfo("mastodon.social", 443)
    with pytest.raises(OutsideNetwork), socket.socket() as sock:
        sock.connect(("93.184.216.34", 443))
