"""The door's view of a request (issue: sign in at the door): the client's address comes from the socket,
or from X-Forwarded-For only through a proxy the operator named; the cookie is Secure when the page is
served over HTTPS, as the server itself or a trusted proxy says."""

from types import SimpleNamespace

import pytest

from nocode_widgets import door


def request(peer: str, protocol: str = "http", **headers):
    return SimpleNamespace(request=SimpleNamespace(remote_ip=peer, protocol=protocol, headers=headers))


@pytest.fixture
def served(ws, monkeypatch):
    def with_settings(**changes):
        monkeypatch.setattr(door, "_WORKSPACE", [type(ws)(ws.settings.with_changes(**changes), ws.store)])
    return with_settings


def test_forwarded_addresses_count_only_through_a_trusted_proxy(served):
    served(trusted_proxies="")
    assert door.client_address(request("203.0.113.7", **{"X-Forwarded-For": "10.9.9.9"})) == "203.0.113.7"
    served(trusted_proxies="127.0.0.1, 10.0.0.0/8")
    forwarded = {"X-Forwarded-For": "198.51.100.1, 192.0.2.4, 10.1.1.1"}  # written by the client, then proxies
    assert door.client_address(request("127.0.0.1", **forwarded)) == "192.0.2.4"  # the nearest untrusted hop
    assert door.client_address(request("192.0.2.50", **forwarded)) == "192.0.2.50"  # not a proxy: the socket
    assert door.client_address(request("127.0.0.1")) == "127.0.0.1"


def test_the_cookie_is_secure_over_https_as_the_server_or_a_trusted_proxy_says(served):
    served(secure_cookies="auto", trusted_proxies="")
    assert door.served_over_https(request("192.0.2.1", protocol="https"))
    assert not door.served_over_https(request("192.0.2.1", **{"X-Forwarded-Proto": "https"}))  # anyone can say so
    served(secure_cookies="auto", trusted_proxies="127.0.0.1")
    assert door.served_over_https(request("127.0.0.1", **{"X-Forwarded-Proto": "https"}))
    served(secure_cookies="always")
    assert door.served_over_https(request("192.0.2.1"))
    served(secure_cookies="never")
    assert not door.served_over_https(request("192.0.2.1", protocol="https"))
