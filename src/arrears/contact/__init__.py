"""Contact with borrowers: notification templates, the outbox, its worker and the delivery channels.

A use case that decides to notify writes an ``OutboxMessage`` in its own transaction (``outbox.queue_message``);
only ``worker.run_worker`` sends, through ``channels``.
"""
