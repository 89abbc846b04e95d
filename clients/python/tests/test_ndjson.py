"""The NDJSON decoder of exports, fed a body split at every point."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from confab_client.ndjson import ExportCutShort, NdjsonDecoder


class Line(BaseModel):
    name: str


BODY = '{"name":"Café ☕"}\n\n{"name":"東京"}\n{"name":"x\\ny"}\n'.encode()


@pytest.mark.parametrize("split", range(len(BODY) + 1))
def test_lines_split_anywhere(split: int) -> None:
    decoder = NdjsonDecoder(Line)
    lines = decoder.feed(BODY[:split]) + decoder.feed(BODY[split:]) + decoder.finish()
    assert [line.name for line in lines] == ["Café ☕", "東京", "x\ny"]


def test_a_body_ending_inside_a_line_is_cut_short() -> None:
    decoder = NdjsonDecoder(Line)
    assert [line.name for line in decoder.feed(b'{"name":"a"}\n{"name":')] == ["a"]
    with pytest.raises(ExportCutShort):
        decoder.finish()
