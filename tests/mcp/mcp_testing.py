"""Helpers shared by the MCP tests (a plain module: `tests/mcp` must not be a package named
`mcp`, which would shadow the MCP library)."""

from __future__ import annotations

from typing import Any

DBT_TOKEN = "dbtc_emulated-secret-token-0123456789"
"""The emulator's only accepted token: tests assert it never shows up in a result."""


def text_of(result: Any) -> str:
    """The single text content block of a tool result."""
    assert len(result.content) == 1
    block = result.content[0]
    assert block.type == "text"
    text: str = block.text
    return text
