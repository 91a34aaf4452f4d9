"""Scheduled delivery of subscriptions (issue 16): each recipient's pack or digest in their own scope,
by e-mail (SMTP) or group-chat webhook, queued once, leased, retried and audited. See docs/deliver.md."""
