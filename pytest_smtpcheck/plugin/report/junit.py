"""JUnit XML: a test's transcripts go to its <system-out>, where CI systems show them."""

from __future__ import annotations

from pathlib import Path

import pytest

__all__ = ["JUNIT_TRANSCRIPT", "move_transcripts_to_system_out"]

JUNIT_TRANSCRIPT = "smtp_transcript"  # moved from <properties> into <system-out> once the XML is written


def move_transcripts_to_system_out(config: pytest.Config) -> None:
    """pytest's JUnit writer has no public way to add system-out: rewrite its file after it is written."""
    path = config.getoption("--junitxml", None)
    if not path or hasattr(config, "workerinput") or not Path(path).is_file():
        return
    from xml.etree import ElementTree

    tree = ElementTree.parse(path)
    changed = False
    for case in tree.iter("testcase"):
        properties = case.find("properties")
        if properties is None:
            continue
        for prop in properties.findall(f"property[@name='{JUNIT_TRANSCRIPT}']"):
            properties.remove(prop)
            out = case.find("system-out")
            if out is None:
                out = ElementTree.SubElement(case, "system-out")
            out.text = "\n".join(part for part in (out.text, prop.get("value")) if part)
            changed = True
        if not len(properties):
            case.remove(properties)
    if changed:
        tree.write(path, encoding="utf-8", xml_declaration=True)
