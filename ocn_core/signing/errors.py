"""Typed OCN-Signature failures: :class:`ocn_core.errors.SignatureError`s (HTTP 400, OCPI 2001)."""

from __future__ import annotations

from ocn_core.errors import SignatureError


class MalformedSignature(SignatureError):
    """The OCN-Signature header cannot be decoded (base64, Brotli, JSON or field types)."""

    reason = "signature_malformed"


class SignatureTooLarge(MalformedSignature):
    """Header, decompressed JSON or field/rewrite count exceeds the caps (decompression bomb)."""

    reason = "signature_too_large"


class UnsupportedFieldPath(MalformedSignature):
    """A field or rewrite path is not a plain JSON path the reference itself could produce."""

    reason = "signature_field_path"


class BadSignatureValue(MalformedSignature):
    """``rsv`` or ``signatory`` is not a well-formed signature / address."""

    reason = "signature_bad_value"


class RequestModified(SignatureError):
    """The rebuilt message does not hash to ``hash``: "Request has been modified."."""

    reason = "signature_request_modified"


class SignatoryMismatch(SignatureError):
    """The recovered signer is not ``signatory``: "Signatories do not match."."""

    reason = "signature_signatory_mismatch"


class RewriteInvalid(SignatureError):
    """Rewrite ``index`` (0 = newest) fails: "Rewrite n: ..."."""

    reason = "signature_rewrite_invalid"

    def __init__(self, message: str, index: int = -1) -> None:
        super().__init__(message)
        self.index = index


class RewriteHashMismatch(RewriteInvalid):
    """The restored values do not hash to the rewrite's ``hash``."""

    reason = "signature_rewrite_hash"


class RewriteSignatoryMismatch(RewriteInvalid):
    """The rewrite's signer is not its (checksummed) ``signatory``."""

    reason = "signature_rewrite_signatory"


class UnsignableValue(SignatureError):
    """Values to sign contain something JSON cannot carry (a non-str key, bytes, a set, ...)."""

    reason = "signature_unsignable_value"


__all__ = [
    "BadSignatureValue",
    "MalformedSignature",
    "RequestModified",
    "RewriteHashMismatch",
    "RewriteInvalid",
    "RewriteSignatoryMismatch",
    "SignatoryMismatch",
    "SignatureError",
    "SignatureTooLarge",
    "UnsignableValue",
    "UnsupportedFieldPath",
]
