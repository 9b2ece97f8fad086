"""The access key from Secret Manager, resolved through an injected client (no network)."""
import pytest

from tests.conftest import ACCESS_KEY
from transforms.delivery.destinations import gainsight_cs
from transforms.delivery.secrets import Secret, is_access_key_shaped, resolve_access_key

CS = gainsight_cs.DESTINATION.credential

VERSION = "projects/my-project/secrets/gainsight-key/versions/3"


class FakeSecretManager:
    """Answers access_secret_version like google-cloud-secret-manager's client, and records calls."""

    calls = []

    def __init__(self, payload: bytes = (ACCESS_KEY + "\n").encode()):
        self._payload = payload

    def access_secret_version(self, request):
        FakeSecretManager.calls.append(request["name"])
        return type("Response", (), {"payload": type("Payload", (), {"data": self._payload})()})()


def test_key_comes_from_the_named_secret_version():
    FakeSecretManager.calls = []
    key = resolve_access_key(Secret(""), VERSION, client_factory=FakeSecretManager, credential=CS)
    assert key == ACCESS_KEY
    assert FakeSecretManager.calls == [VERSION]


def test_without_a_secret_version_the_configured_key_is_used():
    assert resolve_access_key(Secret(ACCESS_KEY), None, client_factory=FakeSecretManager, credential=CS) == ACCESS_KEY


def test_a_secret_that_is_not_a_key_names_the_flag_and_hides_the_value():
    with pytest.raises(ValueError) as caught:
        resolve_access_key(Secret(""), VERSION, client_factory=lambda: FakeSecretManager(b"hunter2-not-a-key"),
                           credential=CS)
    assert "--access_key_secret" in str(caught.value) and "hunter2" not in str(caught.value)


def test_secret_never_prints_its_value():
    secret = Secret(ACCESS_KEY)
    assert ACCESS_KEY not in repr(secret) + str(secret) + f"{secret}" + repr([secret])


def test_key_shape():
    assert is_access_key_shaped("35a84f9e-7084-47a1-b8a5-593444e9e862")
    assert not is_access_key_shaped("35a84f9e70844 7a1b8a5593444e9e862xxxxx")
    assert not is_access_key_shaped(None)
