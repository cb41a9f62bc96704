"""A newcomer writing a call list's template from the error messages alone."""

from __future__ import annotations

import pytest

from console.errors import BadInput
from console.templates.files import parse_toml


def test_a_call_template_without_fields_is_told_to_write_a_list():
    """The refusal said `needs fields = "..."`, a string, which the next save refused as not a list."""
    with pytest.raises(BadInput) as refused:
        parse_toml('name = "call1"\nchannel = "call"\nbody = "致电{{ user.name }}"\n', origin="call1.toml")
    assert str(refused.value) == ('call1.toml: a call template needs fields = ["user.name", …] (the columns of '
                                  'the list, after the standard ones)')
