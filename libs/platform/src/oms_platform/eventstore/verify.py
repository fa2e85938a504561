"""The hash-chain check, shared by every store: feed it a stream's events in order."""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from oms_platform.eventstore.hashing import GENESIS, chain
from oms_platform.eventstore.model import Finding, RecordedEvent


def verify_stream(
    stream_id: str,
    events: Iterable[RecordedEvent],
    head: tuple[int, bytes] | None,
    key: bytes | None,
    anchored: tuple[int, bytes] | None = None,
) -> list[Finding]:
    """Check one stream: versions 1..n without gaps, each hash chained, head matching.

    ``head`` is the (version, hash) the store recorded for the stream's last event when it
    was written; deleting the last event or rewriting history leaves it disagreeing.
    ``key`` is the chain key: without it only the versions and the head can be checked
    (each hash needs the key to be recomputed), so every ``altered`` finding needs it.
    ``anchored`` is the (version, hash) last published for the stream outside the database
    (a signed anchor, ``oms_platform.anchors``): a stream rewritten, cut short or deleted
    since then disagrees with it, however consistent the rewrite.
    """
    findings: list[Finding] = []
    at_anchor: bytes | None = None
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
        elif key is not None and not hmac.compare_digest(
            chain(key, previous, rec.envelope), rec.hash
        ):
            findings.append(
                Finding(stream_id, version, "altered", "stored hash does not match content")
            )
        # Chain on the stored hash so one altered event is reported once, not n times.
        previous = rec.hash
        expected_version = version + 1
        last = rec
        if anchored is not None and version == anchored[0]:
            at_anchor = rec.hash
    if anchored is not None:
        findings += _against_anchor(stream_id, last, at_anchor, anchored)
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


def _against_anchor(
    stream_id: str, last: RecordedEvent | None, at_anchor: bytes | None, anchored: tuple[int, bytes]
) -> list[Finding]:
    version, digest = anchored
    if last is None:
        return [Finding(stream_id, version, "deleted", f"anchored at version {version}, gone")]
    if last.envelope.stream_version < version:
        seen = last.envelope.stream_version
        detail = f"anchored at version {version}, the store ends at {seen}"
        return [Finding(stream_id, version, "truncated", detail)]
    if at_anchor is None:
        return []  # the event is missing: reported as such above
    if not hmac.compare_digest(at_anchor, digest):
        detail = "the stored hash differs from the anchored one: history was rewritten"
        return [Finding(stream_id, version, "rewritten", detail)]
    return []
