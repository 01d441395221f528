"""Keyed pseudonyms for owner identifiers.

A land registry names each title's holder (in China the contractor code 承包方编码, elsewhere a
farmer or household number). agrilend never carries that identifier past the reading step: it is
replaced by ``"H-" + 12 hex digits`` of an HMAC-SHA256 keyed with a secret. The same function turns
the owner ids of subsidy records into pseudonyms, so titles and subsidies match without either side
keeping the raw id.

The key is what makes a pseudonym one. Owner codes are few (a village prefix times a serial of a
few hundred): anyone holding the outputs and the key rebuilds every pseudonym of a county in well
under a second. So there is no default key for real registries: the key comes from
``AGRILEND_PSEUDONYM_KEY`` or a private file named by ``AGRILEND_PSEUDONYM_KEY_FILE`` (or
``key=``), and without one a registry is refused with how to make one. The public demo key is
used only when every identifier belongs to the embedded synthetic county, recognised by its
administrative code ``131199``, which no real county carries (its codes are synthetic and public
anyway). See ``SECURITY.md`` for rotating a key.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from agrilend.errors import CredentialsError
from agrilend.settings import DEMO_PSEUDONYM_KEY, get_settings

log = logging.getLogger(__name__)

#: Prefix of every pseudonym ("H" for household).
PREFIX = "H-"
#: Hex digits kept from the HMAC digest (48 bits: collisions stay negligible for 10^6 owners).
DIGITS = 12
#: Owner codes of the embedded synthetic county: its county code 131199 is assigned to no real
#: county, then 12 digits (township, village, serial) as 承包方编码 have.
SAMPLE_OWNER_CODE = re.compile(r"131199\d{12}")
#: Shortest key accepted from the environment or a key file.
MIN_KEY_LENGTH = 16

_HOW_TO_KEY = (
    "make a secret key once and keep it (the same key gives the same pseudonyms): "
    "python -c 'import secrets; print(secrets.token_hex(32))' > ~/.agrilend-pseudonym.key && "
    "chmod 600 ~/.agrilend-pseudonym.key, then set AGRILEND_PSEUDONYM_KEY_FILE to that file "
    "(or AGRILEND_PSEUDONYM_KEY to the key itself)"
)


def _normalise(value: Any) -> str:
    """The canonical text of one identifier: ``""`` for missing, integral floats without ``.0``."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, float | np.floating):
        if math.isnan(value):
            return ""
        if math.isfinite(value) and float(value).is_integer():
            return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    text = str(value).strip()
    return "" if text.lower() in {"nan", "none", "<na>", "nat"} else text


def is_sample_owner(text: str) -> bool:
    """True for an owner code of the embedded synthetic county.

    Examples
    --------
    >>> is_sample_owner("131199101201010001"), is_sample_owner("130123200101010001")
    (True, False)
    """
    return SAMPLE_OWNER_CODE.fullmatch(text) is not None


def _key_bytes(key: str | bytes | None, texts: list[str]) -> bytes:
    if key is None:
        settings = get_settings()
        if settings.uses_demo_key:
            strangers = [t for t in texts if t and not is_sample_owner(t)]
            if strangers:
                raise CredentialsError(
                    f"no pseudonym key is set, and {len(set(strangers))} owner id(s) are not of "
                    "the sample county: owner ids are pseudonymised with a secret key, never a "
                    f"public one; {_HOW_TO_KEY}"
                )
            log.info("owner ids of the synthetic sample county: pseudonyms use the public demo key")
            key = DEMO_PSEUDONYM_KEY
        else:
            key = settings.pseudonym_key
            if len(key) < MIN_KEY_LENGTH:
                raise CredentialsError(
                    f"the pseudonym key is shorter than {MIN_KEY_LENGTH} characters and could be "
                    f"guessed; {_HOW_TO_KEY}"
                )
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not key:
        # an empty key would make the hash unkeyed: refuse rather than fall back silently
        raise CredentialsError(f"the pseudonym key is empty; pass key=... or {_HOW_TO_KEY}")
    return key


def pseudonymize(values: Iterable[Any], *, key: str | bytes | None = None) -> np.ndarray[Any, Any]:
    """Replace owner identifiers by keyed pseudonyms.

    Parameters
    ----------
    values
        Owner identifiers (strings or numbers). Integral floats are written without ``.0`` (a
        registry code read as ``1234.0`` matches ``"1234"``); surrounding spaces are ignored.
        Missing values (None, NaN, empty) give ``""``.
    key
        Secret key of the HMAC. Defaults to ``AGRILEND_PSEUDONYM_KEY`` or the file named by
        ``AGRILEND_PSEUDONYM_KEY_FILE``; without either, only owner ids of the embedded sample
        county are accepted (with the public demo key).

    Returns
    -------
    numpy.ndarray
        Object array of ``"H-" + 12 hex digits`` strings, deterministic for a given key.

    Raises
    ------
    CredentialsError
        When no key is set and an id is not of the sample county (the message says how to make
        a key), or the key is empty or too short.

    Examples
    --------
    >>> p = pseudonymize(["130123200101010001", 130123200101010001, None], key="secret")
    >>> p[0] == p[1], p[0].startswith("H-"), len(p[0]), p[2]
    (True, True, 14, '')
    >>> pseudonymize(["a"], key="k1")[0] == pseudonymize(["a"], key="k2")[0]
    False
    """
    texts = [_normalise(v) for v in values]
    secret = _key_bytes(key, texts)
    cache: dict[str, str] = {"": ""}
    out = np.empty(len(texts), dtype=object)
    for i, text in enumerate(texts):
        ref = cache.get(text)
        if ref is None:
            digest = hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()
            ref = cache[text] = PREFIX + digest[:DIGITS]
        out[i] = ref
    return out


__all__ = [
    "DIGITS",
    "MIN_KEY_LENGTH",
    "PREFIX",
    "SAMPLE_OWNER_CODE",
    "is_sample_owner",
    "pseudonymize",
]
