"""Content types inferred from file names."""

from __future__ import annotations

import itertools
import os

from ccf_core.content_types import ContentType, _extension, content_type_from_path


def test_extension_is_the_one_os_path_splitext_finds() -> None:
    """Every name of up to 7 characters over '.', '/', 'a' and 'B' (dots at every place)."""
    for length in range(8):
        for letters in itertools.product("./aB", repeat=length):
            name = "".join(letters)
            assert _extension(name) == os.path.splitext(name)[1][1:], name


def test_content_type_from_the_extension_in_any_case() -> None:
    assert content_type_from_path("notes/Read.ME.MD") is ContentType.MD
    assert content_type_from_path("archive/.txt") is None
    assert content_type_from_path("a/b.c/file") is None
