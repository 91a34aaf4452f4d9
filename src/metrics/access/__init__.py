"""Who may see what: users and scopes (users), the sign-in lockout shared by processes
(lockout) and the audit log (audit).
"""

__all__ = ["users", "lockout", "audit"]
