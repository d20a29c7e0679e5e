"""Which values look like credentials, for the places the CCF API stores in plain text.

A job's ``environment`` and a connector's ``configuration`` are stored and returned in clear, so
a credential must not be put there: it belongs in Secrets Manager or SSM Parameter Store, named
in the connector's ``secret_references``. References to a secret are welcome in both places (the
reference's own GitLab example passes ``GITLAB_TOKEN_SECRET_ARN=arn:aws:secretsmanager:...``).

One rule serves both (:func:`credential_problem`): a value is refused when

* it has the form of a well-known credential wherever it appears (an AWS access key id, a PEM
  private key, a GitLab/GitHub/Slack token, a URL with a password in it), or
* its name looks like a secret's (``*TOKEN*``, ``*PASSWORD*``, ``*API_KEY*``, ...) and the value
  is not a reference: an ARN, an SSM parameter name (``/ccf/gitlab/token``), an ``http(s)`` URL
  without credentials, or the value of a name that says what it is about a secret (ending in
  ``_ARN``, ``_NAME``, ``_ID``, ``_URL``, ``_PATH``, ``_FILE``, ``_HEADER``, ``_TYPE``, ``_SHA256``,
  ``_HASH``, ...: ``GITLAB_TOKEN_SECRET_ARN``, ``token_sha256``). Empty values are fine.
"""

from __future__ import annotations

import re

#: Names that look like they hold a secret (matched on the name with camelCase split by ``_``).
SECRET_LOOKING_NAME = re.compile(
    r"(?i)(TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|PRIVATE_?KEY|API_?KEY|ACCESS_?KEY)"
)
#: Names of a fact about a secret, not the secret: its ARN, name, id, location, hash or kind.
_ABOUT_A_SECRET = re.compile(
    r"(?i)(^|_)(ARN|NAME|ID|URL|URI|PATH|FILE|HEADER|TYPE|TTL|SHA\d*|HASH|DIGEST|FINGERPRINT|LENGTH)$"
)
_ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:\S+$")
_SSM_PARAMETER_NAME = re.compile(r"^/[A-Za-z0-9_./-]{1,2047}$")
_PLAIN_URL = re.compile(r"^https?://[^\s/@:]+(:\d+)?(/\S*)?$")
#: Formats of well-known credentials: refused under any name.
_CREDENTIAL_FORMS = (
    ("an AWS access key id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY")),
    ("a GitLab token", re.compile(r"\bgl(pat|dt|ptt|rt|oas)-[0-9A-Za-z_-]{20,}")),
    ("a GitHub token", re.compile(r"\b(gh[pousr]_[0-9A-Za-z]{36,}|github_pat_[0-9A-Za-z_]{22,})")),
    ("a Slack token", re.compile(r"\bxox[abposr]-[0-9A-Za-z-]{10,}")),
    ("a URL with a password", re.compile(r"[a-z][a-z0-9+.-]*://[^\s/:@]*:[^\s/@]+@", re.IGNORECASE)),
)


def _words(name: str) -> str:
    """``gitlabApiKey`` -> ``gitlab_Api_Key``, so camelCase names match like snake_case ones."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).replace("-", "_").replace(".", "_")


def looks_like_secret_name(name: str) -> bool:
    """True when ``name`` reads like the name of a secret (``GITLAB_TOKEN``, ``dbPassword``)."""
    return bool(SECRET_LOOKING_NAME.search(_words(name)))


def is_reference(value: str) -> bool:
    """True when ``value`` points at a secret instead of holding one (an ARN or SSM parameter name)."""
    return bool(_ARN.match(value) or _SSM_PARAMETER_NAME.match(value))


def credential_problem(name: str, value: str) -> str | None:
    """Why ``value`` (known as ``name``) looks like a credential, or None when it may be stored.

    The answer names the kind of credential or the name, never the value.
    """
    for kind, form in _CREDENTIAL_FORMS:
        if form.search(value):
            return f"its value looks like {kind}"
    if not value or not looks_like_secret_name(name):
        return None
    if _ABOUT_A_SECRET.search(_words(name)) or is_reference(value) or _PLAIN_URL.match(value):
        return None
    return "its name looks like a secret's and its value is not a reference (an ARN or SSM parameter name)"


def secret_advice(name: str) -> str:
    """What to do instead of storing a secret under ``name`` (the same words everywhere)."""
    return (
        "values given here are stored and returned in plain text. Put the secret in Secrets Manager "
        "or SSM Parameter Store and name it in the connector's secret_references "
        f'(UpdateCustomConnector secret_references {{"{name}": "arn:aws:secretsmanager:...:secret:..."}}), '
        "which the job receives at run time; a reference (an ARN, an SSM parameter name such as "
        "/ccf/token, or a name ending in _ARN) may be given here instead"
    )
