"""A destination's key: where it comes from on a worker, and the UUID shape of an access key.

The key comes either from the job's configuration (`--access_key` / $GAINSIGHT_ACCESS_KEY, or
the destination's own flag, held in a Secret that prints as <redacted>) or from Secret Manager
(`--access_key_secret projects/P/secrets/S/versions/V`, or the destination's own secret flag),
read once per worker in the sink's setup(). It is never logged.
"""
import re

ACCESS_KEY_PATTERN = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
SECRET_VERSION_PATTERN = re.compile(r"^projects/[^/]+/secrets/[^/]+/versions/[^/]+$")


def is_access_key_shaped(key: str | None) -> bool:
    """36 characters, a UUID such as 35a84f9e-7084-47a1-b8a5-593444e9e862."""
    return bool(key) and len(key) == 36 and bool(ACCESS_KEY_PATTERN.match(key))


class Secret:
    """Holds the access key; prints as <redacted> so it cannot leak through repr or logs."""

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self):
        return "Secret(<redacted>)"

    __str__ = __repr__


def fetch_secret(version_name: str, client=None) -> str:
    """The text of a Secret Manager secret version (whitespace stripped).

    `client` is anything with access_secret_version(request={"name": ...}) -> response whose
    .payload.data is bytes; by default google-cloud-secret-manager's client.
    """
    if client is None:
        from google.cloud import secretmanager  # imported on workers only when used
        client = secretmanager.SecretManagerServiceClient()
    response = client.access_secret_version(request={"name": version_name})
    return response.payload.data.decode("utf-8").strip()


def resolve_access_key(secret: Secret, secret_version: str | None, client_factory,
                       credential) -> str:
    """The key to send: from Secret Manager when `secret_version` is set, else `secret`.

    `credential` (a destinations.base.Credential) says what the destination's key must look
    like. Raises ValueError naming its secret flag (never the value) when the secret does not
    hold a well-formed key.
    """
    if not secret_version:
        return secret.reveal()
    key = fetch_secret(secret_version, client_factory() if client_factory else None)
    problem = credential.problem(key)
    if problem:
        raise ValueError(f"{credential.secret_flag}: {secret_version} does not hold a "
                         f"well-formed key: it {problem}")
    return key
