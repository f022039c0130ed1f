"""Who may do what, beyond being logged in: staff curate (the registry, attachments)."""

from django.core.exceptions import PermissionDenied


def require_staff(user, action: str) -> None:
    """PermissionDenied naming the action unless `user` is staff (the shell operator passes a staff stand-in)."""
    if not (user is not None and getattr(user, "is_staff", False)):
        raise PermissionDenied(f"only staff may {action}")
