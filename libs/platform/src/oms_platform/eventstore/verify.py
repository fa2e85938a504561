"""The hash-chain check, shared by every store: feed it a stream's events in order."""

from __future__ import annotations

from collections.abc import Iterable

from oms_platform.eventstore.hashing import GENESIS, chain
from oms_platform.eventstore.model import Finding, RecordedEvent


def verify_stream(
    stream_id: str,
    events: Iterable[RecordedEvent],
    head: tuple[int, bytes] | None,
) -> list[Finding]:
    """Check one stream: versions 1..n without gaps, each hash chained, head matching.

    ``head`` is the (version, hash) the store recorded for the stream's last event when it
    was written; deleting the last event or rewriting history leaves it disagreeing.
    """
    findings: list[Finding] = []
    previous = GENESIS
    expected_version = 1
    last: RecordedEvent | None = None
    for rec in events:
        version = rec.envelope.stream_version
        if version != expected_version:
            findings.append(
                Finding(
                    stream_id,
                    expected_version,
                    "missing",
                    f"versions {expected_version}..{version - 1} are not in the store",
                )
            )
        # After a gap the previous hash is unknown: the gap is the finding.
        elif chain(previous, rec.envelope) != rec.hash:
            findings.append(
                Finding(stream_id, version, "altered", "stored hash does not match content")
            )
        # Chain on the stored hash so one altered event is reported once, not n times.
        previous = rec.hash
        expected_version = version + 1
        last = rec
    if head is not None:
        head_version, head_hash = head
        if last is None or last.envelope.stream_version != head_version or last.hash != head_hash:
            seen = last.envelope.stream_version if last else 0
            findings.append(
                Finding(
                    stream_id,
                    head_version,
                    "head_mismatch",
                    f"stream head says version {head_version}, events end at {seen}",
                )
            )
    elif last is not None:
        findings.append(Finding(stream_id, None, "head_mismatch", "events without a stream head"))
    return findings
