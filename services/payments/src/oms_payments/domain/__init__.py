"""The payments domain: three deciders over plain values (no I/O, no clock).

* :data:`~oms_payments.domain.billing.billing` -- an order as payments sees it (what it
  owes, its payments, each shipment's split, the cancellation; its state in
  ``billing_state``, what short picks, failed parcels and returns take back in
  ``settlement``);
* :data:`~oms_payments.domain.payment.payment` -- one payment with its provider
  (authorized, captured in parts, voided, refunded);
* :data:`~oms_payments.domain.giftcard.gift_card` -- a gift card's balance.

Each is an :class:`oms_platform.decider.Decider`: ``decide(command, state)`` returns the new
events or raises :class:`oms_platform.refusal.Refusal`.
"""
