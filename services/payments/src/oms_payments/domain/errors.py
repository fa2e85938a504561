"""Why a command cannot be carried out; the HTTP and consumer layers map these."""

from __future__ import annotations


class PaymentsError(Exception):
    """Base of the domain's refusals; ``code`` is a stable machine-readable name."""

    code = "refused"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(PaymentsError):
    """The payment, order or gift card is unknown."""

    code = "not_found"


class Refused(PaymentsError):
    """The command contradicts what already happened (HTTP 409; dead-lettered if a message)."""


class AmountExceeded(Refused):
    """An amount is more than what is left to capture, void, refund or spend."""

    code = "amount_exceeded"


class NotReady(PaymentsError):
    """Something this command needs has not happened yet; retrying later may succeed."""

    code = "not_ready"
