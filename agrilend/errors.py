"""Errors and warnings raised by agrilend.

Every error derives from :class:`AgrilendError`; leaves also derive from the built-in exception
a caller would naturally catch (``ValueError``, ``OSError``, ``KeyError``). Messages say what went
wrong, with which input, and what to do. Errors carry the offending input as attributes.
"""

from __future__ import annotations

from pathlib import Path


class AgrilendError(Exception):
    """Root of every error raised by agrilend."""


# --- inputs and files --------------------------------------------------------------------------


class InputPathError(AgrilendError, ValueError):
    """A path given by a user is not allowed (network, GDAL virtual file system) or not usable."""

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class UnsafeInputError(InputPathError):
    """An input's content would make a reader reach the network or another file by itself.

    E.g. a titles file that is a GDAL VRT, a GeoJSON whose CRS is a link, a STAC asset href
    outside the catalogue's folder. Nothing was fetched or opened.
    """


class ResourceLimitError(AgrilendError, ValueError):
    """An input declares more than a resource limit allows (pixels, bytes, nesting, time).

    The message names the input, the limit and the environment variable that raises it.
    """

    def __init__(
        self, message: str, *, what: str | None = None, path: str | Path | None = None
    ) -> None:
        super().__init__(message)
        self.what = what
        self.path = path


class ImageryReadError(AgrilendError, OSError):
    """Imagery could not be opened or does not follow the cube contract."""

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class ImageryValueError(ImageryReadError):
    """Imagery values are implausible, or their scale cannot be told; the message says what was
    seen and how to pass the scale or offset."""


class MissingBandError(AgrilendError, KeyError):
    """A band needed for a computation is absent from the cube."""

    def __init__(self, message: str, *, band: str | None = None) -> None:
        super().__init__(message)
        self.band = band

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return str(self.args[0])


class TitlesReadError(AgrilendError, OSError):
    """A land-title file could not be read or mapped to the titles schema."""

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class ClaimsReadError(TitlesReadError):
    """A file of farmer-drawn claims (GeoJSON, GPX) could not be read; names the file."""


class TitleMappingError(AgrilendError, ValueError):
    """A titles column mapping (arguments or TOML file) is invalid; the message names the key."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class TableReadError(AgrilendError, ValueError):
    """A tabular input (subsidy, weather, yield records) could not be read or is malformed."""

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.path = path


# --- geometry and CRS ---------------------------------------------------------------------------


class CRSError(AgrilendError, ValueError):
    """A coordinate reference system is missing or contradicts the coordinates."""


class MissingCRSError(CRSError):
    """An input has no CRS; pass one explicitly."""


class CRSMismatchError(CRSError):
    """Two inputs that must share a CRS do not."""


class ExtentMismatchError(CRSError):
    """No title overlaps the imagery: both extents and CRSs are named, with the likely cause."""


class GeometryError(AgrilendError, ValueError):
    """A parcel geometry is unusable (empty, non-polygonal, not finite)."""

    def __init__(self, message: str, *, parcel_id: str | None = None) -> None:
        super().__init__(message)
        self.parcel_id = parcel_id


class OutsideImageryError(GeometryError):
    """A parcel lies outside the imagery extent."""


class DuplicateParcelError(GeometryError):
    """Two titles carry the same parcel id."""


# --- models, policy, credit ---------------------------------------------------------------------


class ModelError(AgrilendError, ValueError):
    """A model cannot be fitted, used or loaded."""


class ModelVersionError(ModelError):
    """A saved model is incompatible with this version of agrilend or with the features given."""

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class PolicyError(AgrilendError, ValueError):
    """A credit policy is invalid; the message names the offending key."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class IndexRangeError(AgrilendError, ValueError):
    """A vegetation index series holds values outside its range (e.g. NDVI outside [-1, 1])."""


class InsufficientEvidenceError(AgrilendError, ValueError):
    """There is not enough usable observation to estimate something."""


# --- services, scans ----------------------------------------------------------------------------


class ServiceError(AgrilendError, ConnectionError):
    """A remote imagery service (Sentinel Hub, STAC) failed after retries."""


class CredentialsError(AgrilendError, PermissionError):
    """Credentials for a remote service are missing or rejected (they are never echoed)."""


class ScanError(AgrilendError, RuntimeError):
    """A county scan cannot start or continue (e.g. its inputs changed since it began)."""


class InputsChangedError(ScanError):
    """A scan is resumed with inputs whose checksums differ from the ones it started with."""


class OutputExistsError(AgrilendError, FileExistsError):
    """An output exists and ``overwrite`` was not given."""

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class OutputWriteError(AgrilendError, OSError):
    """An output could not be written (no space left, no permission); the target is unchanged."""

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        super().__init__(message)
        self.path = path


# --- reports ------------------------------------------------------------------------------------


class ReportError(AgrilendError, RuntimeError):
    """A report cannot be rendered (e.g. no PDF engine is installed)."""


class UnknownTargetError(AgrilendError, LookupError):
    """A report was asked for a household or parcel id that the assessment does not hold."""

    def __init__(self, message: str, *, target_id: str | None = None) -> None:
        super().__init__(message)
        self.target_id = target_id


# --- warnings -----------------------------------------------------------------------------------


class AgrilendWarning(UserWarning):
    """Root of every warning issued by agrilend."""


class GeometryRepairedWarning(AgrilendWarning):
    """An invalid geometry was repaired (its polygonal part kept)."""


class IndexScaleWarning(AgrilendWarning):
    """An index series was given scaled (e.g. NDVI x 10000) and was rescaled."""


__all__ = [
    "AgrilendError",
    "AgrilendWarning",
    "CRSError",
    "CRSMismatchError",
    "ClaimsReadError",
    "CredentialsError",
    "DuplicateParcelError",
    "ExtentMismatchError",
    "GeometryError",
    "GeometryRepairedWarning",
    "ImageryReadError",
    "ImageryValueError",
    "IndexRangeError",
    "IndexScaleWarning",
    "InputPathError",
    "InputsChangedError",
    "InsufficientEvidenceError",
    "MissingBandError",
    "MissingCRSError",
    "ModelError",
    "ModelVersionError",
    "OutputExistsError",
    "OutputWriteError",
    "OutsideImageryError",
    "PolicyError",
    "ReportError",
    "ResourceLimitError",
    "ScanError",
    "ServiceError",
    "TableReadError",
    "TitleMappingError",
    "TitlesReadError",
    "UnknownTargetError",
    "UnsafeInputError",
]
