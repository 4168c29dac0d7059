"""The push outbox: messages stored once per idempotency key, claimed with a lease, delivered at least
once (``docs/store.md``, "Push outbox")."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, func, select, update

from meshmeter.store import _validate as v
from meshmeter.store.base import StoreBase, _now
from meshmeter.store.models import OutboxMessage
from meshmeter.store.schema import push_outbox

__all__ = ["OutboxMixin"]


class OutboxMixin(StoreBase):
    """The push outbox: at-least-once delivery with idempotency keys."""

    @staticmethod
    def _message(r: Row[Any]) -> OutboxMessage:
        return OutboxMessage(
            r.id,
            r.channel,
            r.idempotency_key,
            r.payload,
            r.created_at,
            r.attempts,
            r.next_attempt_at,
            r.delivered_at,
            r.last_error,
        )

    def outbox_enqueue(
        self, *, channel: str, idempotency_key: str, payload: Any, now: datetime | None = None
    ) -> OutboxMessage:
        """
        Put a message in the push outbox, once per idempotency key.

        Parameters
        ----------
        channel : str
            Where it goes (``"mqtt"``, ``"webhook"`` ...).
        idempotency_key : str
            Unique key; the receiver uses it to drop duplicates of at-least-once delivery.
        payload : JSON
            The message (no NaN).
        now : datetime, optional
            When; default now. The message is due at once.

        Returns
        -------
        OutboxMessage
            The message stored: the earlier one when the key was already enqueued with the same channel
            and payload.

        Raises
        ------
        ValueError
            When the key is already used by a different message, or on bad input.
        """
        channel = v.check_text("channel", channel)
        idempotency_key = v.check_text("idempotency_key", idempotency_key)
        body = v.check_json("payload", payload)
        stamp = _now() if now is None else v.check_utc("now", now)
        t = push_outbox
        with self._write() as c:
            c.execute(
                self._insert(t)
                .values(
                    channel=channel,
                    idempotency_key=idempotency_key,
                    payload=body,
                    created_at=stamp,
                    attempts=0,
                    next_attempt_at=stamp,
                )
                .on_conflict_do_nothing(index_elements=[t.c.idempotency_key])
            )
            row = c.execute(select(t).where(t.c.idempotency_key == idempotency_key)).one()
        message = self._message(row)
        if (message.channel, message.payload) != (channel, body):
            raise ValueError(
                f"idempotency_key {idempotency_key!r} is already used by message {message.id} "
                "with a different channel or payload"
            )
        return message

    def outbox_claim(
        self,
        *,
        limit: int = 100,
        channel: str | None = None,
        now: datetime | None = None,
        lease_s: float = 60.0,
    ) -> list[OutboxMessage]:
        """
        Claim due, undelivered messages for sending, oldest due first.

        Each claimed message has its ``attempts`` counted and is hidden from other claims for ``lease_s``;
        if it is neither delivered nor failed by then (the sender died), it is due again: at-least-once.

        Parameters
        ----------
        limit : int, optional
            At most this many.
        channel : str, optional
            Only this channel.
        now : datetime, optional
            The time; default now.
        lease_s : float, optional
            How long a claim holds. [s]
        """
        limit = v.check_int("limit", limit, low=1, expected="a positive int")
        lease_s = v.check_positive_float("lease_s", lease_s)
        stamp = _now() if now is None else v.check_utc("now", now)
        t = push_outbox
        due = (
            select(t.c.id)
            .where(t.c.delivered_at.is_(None), t.c.next_attempt_at <= stamp)
            .order_by(t.c.next_attempt_at, t.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if channel is not None:
            due = due.where(t.c.channel == v.check_text("channel", channel))
        with self._write() as c:
            ids = list(c.execute(due).scalars())
            if not ids:
                return []
            c.execute(
                update(t)
                .where(t.c.id.in_(ids))
                .values(attempts=t.c.attempts + 1, next_attempt_at=stamp + timedelta(seconds=lease_s))
            )
            rows = c.execute(select(t).where(t.c.id.in_(ids)).order_by(t.c.id)).all()
        order = {message_id: i for i, message_id in enumerate(ids)}
        return sorted((self._message(r) for r in rows), key=lambda m: order[m.id])

    def outbox_mark_delivered(self, *, message_id: int, at: datetime | None = None) -> None:
        """Mark a message delivered (idempotent: a second mark keeps the first time)."""
        message_id = v.check_id("message_id", message_id)
        stamp = _now() if at is None else v.check_utc("at", at)
        t = push_outbox
        with self._write() as c:
            self._require(c, t, message_id, "message_id", "outbox message")
            c.execute(
                update(t)
                .where(t.c.id == message_id, t.c.delivered_at.is_(None))
                .values(delivered_at=stamp, last_error=None)
            )

    def outbox_mark_failed(self, *, message_id: int, retry_at: datetime, error: str) -> None:
        """Record a failed attempt; the message is due again at ``retry_at`` (the sender's back-off)."""
        message_id = v.check_id("message_id", message_id)
        retry_at = v.check_utc("retry_at", retry_at)
        error = v.check_text("error", error)
        t = push_outbox
        with self._write() as c:
            self._require(c, t, message_id, "message_id", "outbox message")
            c.execute(
                update(t)
                .where(t.c.id == message_id, t.c.delivered_at.is_(None))
                .values(next_attempt_at=retry_at, last_error=error)
            )

    def outbox_get(self, *, message_id: int) -> OutboxMessage | None:
        """The outbox message with this id, or None."""
        with self._read() as c:
            row = c.execute(select(push_outbox).where(push_outbox.c.id == message_id)).first()
        return None if row is None else self._message(row)

    def outbox_pending(self, *, channel: str | None = None) -> int:
        """How many messages are not yet delivered."""
        t = push_outbox
        query = select(func.count()).select_from(t).where(t.c.delivered_at.is_(None))
        if channel is not None:
            query = query.where(t.c.channel == channel)
        with self._read() as c:
            return int(c.execute(query).scalar_one())
