"""Masking personal data on screen (PIPL Art. 51): 138****5678, a****@example.com, 王*."""

from __future__ import annotations

from console.channel_names import ADDRESS_COLUMN


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    digits = phone.lstrip("+")
    # Show the national part as operators know it: mainland numbers without +86.
    if phone.startswith("+86") and len(digits) == 13:
        return digits[2:5] + "****" + digits[-4:]
    # others keep their '+': without it +1 212… read as a mainland-looking 121****…
    plus = "+" if phone.startswith("+") else ""
    if len(digits) <= 7:
        return plus + digits[:2] + "*" * max(len(digits) - 2, 0)
    return plus + digits[:3] + "****" + digits[-4:]


def mask_email(email: str | None) -> str:
    if not email:
        return ""
    local, _, domain = email.partition("@")
    if not domain:
        return local[:1] + "****"
    return f"{local[:1]}****@{domain}"


def mask_name(name: str | None) -> str:
    if not name:
        return ""
    if name.isascii():
        return name[:1] + "*" * min(len(name) - 1, 2)
    return name[:1] + "*" * (len(name) - 1)


def mask_address(channel: str, address: str | None) -> str:
    if channel == "email":
        return mask_email(address)
    if ADDRESS_COLUMN.get(channel) == "phone":   # sms, call and gift lists all go to the phone
        return mask_phone(address)
    return (address or "")[:4] + "…" if address else ""
