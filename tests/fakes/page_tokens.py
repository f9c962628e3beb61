"""Page tokens signed like ``PageTokenCodec`` signs them, around any payload: what another
release, or someone holding the secret, could send."""

from __future__ import annotations

import base64
import hashlib
import hmac


def signed_token(payload: bytes, secret: bytes) -> str:
    """A truncated HMAC-SHA256 of ``payload``, then ``payload``, in unpadded base64url."""
    signature = hmac.new(secret, payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(signature + payload).rstrip(b"=").decode()
