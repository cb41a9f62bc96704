"""A number outside the mainland, masked: '+12125463132' read '121****3132' — a mainland-looking mobile with the
'+' and the country gone (Deliveries, a person's page, campaign members). Mainland numbers keep their familiar
138****5678; others keep their '+'. The SQL mirror (search) gives the same text."""

from __future__ import annotations

from console.privacy import mask_phone
from console.search_sql import mask_phone as phone_sql


def test_a_number_outside_the_mainland_keeps_its_plus_when_masked(db):
    assert mask_phone("+8613812345678") == "138****5678"
    assert mask_phone("+12125463132") == "+121****3132"
    assert mask_phone("+61440855866") == "+614****5866"
    for phone in ("+12125463132", "+61440855866", "+8613812345678", "+1234567", "12345", "13812345678"):
        got = db.execute(f"SELECT {phone_sql(':x', 8)}", {"x": phone}).fetchone()[0]
        assert got == mask_phone(phone), phone
