"""Damaged `.smtp` files at collection: items or a clean error naming path and line, never a traceback."""

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

GOOD = ["+++", 'description = "x"', "+++", "< 220", "> EHLO probe.example.net", "< 250",
        "> MAIL FROM:<a@b>", "< 250", "> DATA", "< 354", "> Subject: x", ">", "> .", "< 250",
        "! starttls", "< 220", "! auth PLAIN u p", "< 235", "> QUIT", "< 221", "< closed"]

HAND_PICKED = {
    "unknown_prefix": (b"< 220\n? EHLO x\n< 250\n", 2, "must start with"),
    "bad_code": (b"< 220\n> EHLO x\n< 2500\n", 3, "`2500` is not a reply code"),
    "bad_regex": (b"< 220\n> EHLO x\n< 250 /[unclosed/\n", 3, "bad regex"),
    "bad_toml": (b"+++\ndescription = \n+++\n< 220\n", 2, "front matter"),
    "unclosed_front_matter": (b"+++\ndescription = 'x'\n< 220\n", 1, "+++"),
    "unknown_key": (b"+++\nretries = 3\n+++\n< 220\n", 2, "retries"),
    "stray_directive": (b"< 220\n! tls\n< 250\n", 2, "unknown directive"),
    "answer_without_question": (b"< 220\n< 250\n", 2, "nothing to answer"),
    "non_utf8": (b"< 220\n> EHLO \xff\xfe\n< 250\n", 2, "UTF-8"),
    "long_line": (b"< 220\n> NOOP " + b"x" * 2000 + b"\n< 250\n", 2, "998"),
}


def collect(pytester, files: dict[str, bytes]):
    for name, content in files.items():
        (pytester.path / f"{name}.smtp").write_bytes(content)
    return pytester.runpytest_inprocess("--co", "-q", "-p", "no:cacheprovider", "--smtp-target=127.0.0.1:9")


def errors_by_file(result) -> dict[str, str]:
    """The collection error text of each file, from the `ERROR collecting NAME` sections."""
    text = result.stdout.str()
    sections = re.split(r"_+ ERROR collecting (\S+) _+", text)
    return {sections[i]: sections[i + 1] for i in range(1, len(sections) - 1, 2)}


def test_hand_picked_damage_is_named_with_path_and_line(pytester):
    result = collect(pytester, {name: content for name, (content, _, _) in HAND_PICKED.items()})
    errors = errors_by_file(result)
    assert "Traceback" not in result.stdout.str()
    for name, (_, line, words) in HAND_PICKED.items():
        message = errors[f"{name}.smtp"]
        assert re.search(rf"{name}\.smtp:{line}: ", message), message
        assert words in message, message


def test_crlf_and_mixed_line_endings_collect_the_same_items(pytester):
    lf = "\n".join(GOOD).encode() + b"\n"
    crlf = lf.replace(b"\n", b"\r\n")
    mixed = b"".join(line + (b"\r\n" if i % 2 else b"\n") for i, line in enumerate(lf.splitlines()))
    result = collect(pytester, {"lf": lf, "crlf": crlf, "mixed": mixed})
    items = [line for line in result.stdout.lines if "::" in line]
    names = {ending: sorted(i.split("::")[1] for i in items if i.startswith(f"{ending}.smtp")) for ending in ("lf", "crlf", "mixed")}
    assert names["lf"] and names["lf"] == names["crlf"] == names["mixed"]


damage = st.one_of(
    st.sampled_from(["", "<", ">", "!", "#", "+++", "< 2x5", "< 25", "< 250 /(/", "< 250 'x", "! auth", "! message 5TiB",
                     "! sleep -1", "> ${X", "$${", "< closed", "\x00", "\ufeff", "> " + "y" * 1200]),
    st.text(max_size=40),
)


@st.composite
def damaged_file(draw) -> bytes:
    lines = list(GOOD)
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(lines)))
        if draw(st.booleans()) and lines:
            lines[min(position, len(lines) - 1)] = draw(damage)
        else:
            lines.insert(position, draw(damage))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    data = ending.join(lines).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data)))
        data = data[:cut] + draw(st.binary(max_size=8)) + data[cut:]
    return data


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(damaged_file(), min_size=5, max_size=12))
def test_any_damage_gives_items_or_a_clean_error(pytester, files):
    for old in pytester.path.glob("*.smtp"):
        old.unlink()
    result = collect(pytester, {f"f{i}": content for i, content in enumerate(files)})
    text = result.stdout.str()
    assert "Traceback" not in text and "INTERNALERROR" not in text, text
    errors = errors_by_file(result)
    for i in range(len(files)):
        name = f"f{i}.smtp"
        collected = any(line.startswith(f"{name}::") for line in result.stdout.lines)
        assert collected != (name in errors), f"{name}: neither items nor an error, or both"
        if name in errors:
            assert re.search(rf"{re.escape(name)}(:\d+)?: \S", errors[name]), errors[name]
