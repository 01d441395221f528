"""Keyed pseudonyms for owner identifiers.

A land registry names each title's holder (in China the contractor code 承包方编码, elsewhere a
farmer or household number). agrilend never carries that identifier past the reading step: it is
replaced by ``"H-" + 12 hex digits`` of an HMAC-SHA256 keyed with ``Settings.pseudonym_key``. The
same function turns the owner ids of subsidy records into pseudonyms, so titles and subsidies match
without either side keeping the raw id.

The hash is keyed so that someone holding the output cannot rebuild the pseudonym of a known
identifier (18-digit codes are too few to resist a dictionary attack on a plain hash). With the
public demo key that protection is void, which is fine for the synthetic county only.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from agrilend.errors import CredentialsError
from agrilend.settings import get_settings

log = logging.getLogger(__name__)

#: Prefix of every pseudonym ("H" for household).
PREFIX = "H-"
#: Hex digits kept from the HMAC digest (48 bits: collisions stay negligible for 10^6 owners).
DIGITS = 12


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


def _key_bytes(key: str | bytes | None) -> bytes:
    if key is None:
        settings = get_settings()
        if settings.uses_demo_key:
            log.info(
                "owner pseudonyms use the public demo key; set AGRILEND_PSEUDONYM_KEY for real "
                "registries"
            )
        key = settings.pseudonym_key
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not key:
        # an empty key would make the hash unkeyed: refuse rather than fall back silently
        raise CredentialsError(
            "the pseudonym key is empty; set AGRILEND_PSEUDONYM_KEY or pass key=..."
        )
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
        Secret key of the HMAC. Defaults to ``Settings.pseudonym_key`` (``AGRILEND_PSEUDONYM_KEY``
        or the public demo key, which is logged at INFO level).

    Returns
    -------
    numpy.ndarray
        Object array of ``"H-" + 12 hex digits`` strings, deterministic for a given key.

    Examples
    --------
    >>> p = pseudonymize(["130123200101010001", 130123200101010001, None], key="secret")
    >>> p[0] == p[1], p[0].startswith("H-"), len(p[0]), p[2]
    (True, True, 14, '')
    >>> pseudonymize(["a"], key="k1")[0] == pseudonymize(["a"], key="k2")[0]
    False
    """
    secret = _key_bytes(key)
    cache: dict[str, str] = {"": ""}
    texts = [_normalise(v) for v in values]
    out = np.empty(len(texts), dtype=object)
    for i, text in enumerate(texts):
        ref = cache.get(text)
        if ref is None:
            digest = hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()
            ref = cache[text] = PREFIX + digest[:DIGITS]
        out[i] = ref
    return out


__all__ = ["DIGITS", "PREFIX", "pseudonymize"]
