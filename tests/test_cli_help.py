"""Help screens: plain metavars, no type tags, one example per command."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from prioritiser.cli import app

COMMANDS = ["init", "add", "label", "rank", "status", "stop", "simulate", "demo", "audit", "reproduce", "export",
            "info", "check"]
TYPE_TAG = re.compile(r"<(bool|int|float|str|path|list|file|dir|text)\b[^>]*>", re.IGNORECASE)


@pytest.mark.parametrize("name", [None, *COMMANDS])
def test_help_has_no_type_tags_and_one_example(name):
    args = [name, "--help"] if name else ["--help"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert not TYPE_TAG.search(result.output), TYPE_TAG.search(result.output).group(0)
    examples = re.findall(r"Example: prioritiser (\w+)", result.output)
    assert len(examples) == 1 and examples[0] == (name or "init")


def test_options_that_take_a_value_show_a_metavar():
    output = CliRunner().invoke(app, ["rank", "--help"], env={"COLUMNS": "200"}).output
    for option, metavar in (("--batch", "N"), ("--out", "FILE"), ("--set", "KEY=VALUE"), ("--model", "NAME")):
        assert re.search(rf"{option}\s+(-\w\s+)?{re.escape(metavar)}\s", output), option
    label = CliRunner().invoke(app, ["label", "--help"], env={"COLUMNS": "200"}).output
    assert re.search(r"--sheet\s+NAME\s", label)
