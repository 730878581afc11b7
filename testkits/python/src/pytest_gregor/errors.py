"""The exceptions pytest-gregor raises: one base class, so that a test can
catch everything the kit throws with `except GregorError`."""

from __future__ import annotations

from typing import Optional


class GregorError(Exception):
    """Something went wrong running or driving a gregor broker."""


class GregorStartError(GregorError):
    """The broker binary is missing, or the broker did not come up: the
    message carries the tail of its stderr and the path of the full log."""


class GregorAdminError(GregorError):
    """An admin-listener request was answered with a non-2xx status (or not
    answered at all: `status` is then None)."""

    def __init__(self, method: str, url: str, status: Optional[int], body: str):
        self.method = method
        self.url = url
        self.status = status
        self.body = body
        answer = f"answered {status}" if status is not None else "failed"
        super().__init__(f"{method} {url} {answer}: {body.strip()}")


class GregorTimeout(GregorError, AssertionError):
    """`wait_for` gave up. An AssertionError too: in a test, a condition that
    never came true is a failed expectation."""
