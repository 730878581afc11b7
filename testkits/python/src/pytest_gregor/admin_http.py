"""A minimal JSON client for gregor's admin listeners (standard library
only). Every request that changes something says `Content-Type:
application/json`: the broker refuses it otherwise (415), so that no web
page can change a local broker."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Optional

from .errors import GregorAdminError

# Restarting a cluster's broker or moving a leader waits inside the request.
DEFAULT_TIMEOUT_S = 60.0


class AdminHttp:
    def __init__(self, base_url: str, timeout: float = DEFAULT_TIMEOUT_S):
        self.base_url = base_url
        self.timeout = timeout

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def post(self, path: str, body: Optional[dict] = None) -> Any:
        return self.call("POST", path, {} if body is None else body)

    def delete(self, path: str) -> Any:
        return self.call("DELETE", path)

    def call(self, method: str, path: str, body: Optional[dict] = None) -> Any:
        """The decoded JSON answer (None for an empty one, the text for a
        non-JSON one); GregorAdminError unless the status is 2xx."""
        url = self.base_url + path
        request = urllib.request.Request(
            url, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                text = answer.read().decode()
        except urllib.error.HTTPError as refused:
            raise GregorAdminError(method, url, refused.code,
                                   refused.read().decode(errors="replace")) from None
        except (urllib.error.URLError, OSError) as unreachable:
            raise GregorAdminError(method, url, None, str(unreachable)) from None
        if not text:
            return None
        # The cluster's plane sends JSON without a Content-Type: go by the text.
        try:
            return json.loads(text)
        except ValueError:
            return text
