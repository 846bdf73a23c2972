"""What one exchange with a messaging service says about a message to a person. No ORM.

A message to a person is never sent twice. So an answer that does not say
for sure whether the service took the message (no answer after the request
left, a server error) makes the message *unknown*: nobody sends it again
but a member of staff who decided to. Only a request that surely never
reached the service (no connection) or that the service refused for now
(408, 429: a timeout or rate limit) is tried again.
"""

from dataclasses import dataclass

SENT, FAILED, RETRY, UNKNOWN = "sent", "failed", "retry", "unknown"

# Seconds before the next try of a message that did not reach the service:
# the n-th try waits RETRY_DELAYS[n - 1]; after the last, the message fails.
RETRY_DELAYS = (60, 300, 900, 3600)
# The answers that say the service did not take the message and will later.
TRY_LATER = (408, 429)


@dataclass(frozen=True)
class Result:
    """The outcome of one message: a state above, the service's id for it, or why not."""

    state: str
    provider_id: str = ""
    error: str = ""
    retry_in: int = 0


def classify(status, reached, attempts, retry_after=None, error=""):
    """The generic reading of an HTTP exchange; the channel reads the ids and error texts.

    ``status`` is the HTTP status (0 without an answer), ``reached`` whether
    the request may have reached the service, ``attempts`` how many tries
    this one makes, ``retry_after`` the seconds its Retry-After asked to
    wait (None when it did not say). A 2xx answer is SENT with no provider id: the channel
    fills it in from the body.
    """
    if 200 <= status < 300:
        return Result(SENT)
    error = error or (f"HTTP {status}" if status else "no answer")
    if status in TRY_LATER or (not status and not reached):
        if attempts > len(RETRY_DELAYS):
            return Result(FAILED, error=error)
        return Result(RETRY, error=error, retry_in=int(retry_after or RETRY_DELAYS[attempts - 1]))
    if 400 <= status < 500:
        return Result(FAILED, error=error)
    return Result(UNKNOWN, error=error)
