"""The HTML report an engineer attaches to a change ticket, rendered in a real headless Chromium."""

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"
ARTIFACTS = Path(__file__).parent.parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


class Elements(HTMLParser):
    """The rendered DOM's elements with their classes and text, enough to find what the page shows."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[dict] = []
        self.found: list[dict] = []

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "class": dict(attrs).get("class") or "", "text": ""}
        self.stack.append(element)
        self.found.append(element)

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        for element in self.stack:
            element["text"] += data

    def with_class(self, name: str) -> list[dict]:
        return [e for e in self.found if name in e["class"].split()]


def render(report: Path, profile: Path) -> Elements:
    """The page's DOM after its scripts ran (pytest-html 4 builds the table from JSON in the browser)."""
    dom = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom",
         report.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    parser = Elements()
    parser.feed(dom)
    return parser


def screenshot(report: Path, profile: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000",
         "--window-size=1400,1600", f"--screenshot={target}", report.as_uri()],
        capture_output=True, timeout=120, check=True,
    )


@needs_chromium
def test_failing_smtp_item_shows_its_transcript_and_the_mismatch(pytester, tmp_path):
    pytester.copy_example(str(EXAMPLES / "relay_denied.smtp"))
    pytester.copy_example(str(EXAMPLES / "postmaster_accepted.smtp"))
    report = tmp_path / "report.html"
    result = pytester.runpytest_subprocess(
        "--smtp-sandbox=misconfigured", f"--html={report}", "--self-contained-html", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=9, failed=1, skipped=1)

    page = render(report, tmp_path / "profile")
    transcripts = page.with_class("smtp-transcript")
    assert transcripts, "no transcript was rendered in the report"
    mismatches = page.with_class("smtp-mismatch")
    assert len(mismatches) == 1, [m["text"] for m in mismatches]
    assert "250" in mismatches[0]["text"] and "S:" in mismatches[0]["text"]
    failing = [t for t in transcripts if "RCPT TO:<victim@elsewhere.example>" in t["text"]]
    assert failing, "the failing item's transcript does not show the RCPT it sent"
    assert "DATA" not in failing[0]["text"], "a line after the mismatch was sent"
    rows = " ".join(row["text"] for row in page.with_class("col-result"))
    assert "Failed" in rows and "Passed" in rows
    screenshot(report, tmp_path / "profile", ARTIFACTS / "html-report.png")
    assert (ARTIFACTS / "html-report.png").stat().st_size > 10_000


@needs_chromium
def test_the_change_ticket_report_against_an_mx_only_postfix(pytester, postfix, tmp_path):
    """The README's change-ticket command against a server with port-25 policy and no account."""
    for example in sorted(EXAMPLES.iterdir()):
        if example.suffix in (".py", ".smtp"):
            pytester.copy_example(str(example))
    report, junit = tmp_path / "mx-acceptance.html", tmp_path / "mx-acceptance.xml"
    result = pytester.runpytest_subprocess(
        f"--smtp-target={postfix.host}:{postfix.ports['smtp']}", f"--smtp-ca={postfix.ca_file}",
        "--smtp-var", "SMTP_DOMAIN=sandbox.test", f"--html={report}", "--self-contained-html",
        f"--junitxml={junit}", "-p", "no:cacheprovider", "-rs",
    )
    text = result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, text
    assert outcomes["passed"] >= 20 and outcomes["skipped"] >= 5
    assert "needs the submission listener, which this run was not given: give --smtp-listener submission=587" in text
    assert "needs an account: give --smtp-user USER and set the password in the environment variable" in text

    page = render(report, tmp_path / "profile")
    title = next(e["text"] for e in page.found if e["tag"] == "h1")
    assert title.startswith(f"SMTP acceptance: {postfix.host}:{postfix.ports['smtp']}, 20")
    environment = " ".join(e["text"] for e in page.found if e["tag"] == "td")
    assert "Command line" in environment and f"--smtp-target={postfix.host}" in environment
    assert "SMTP options" in environment and "SMTP_DOMAIN" in environment and "(command line)" in environment
    assert f"{postfix.host}:{postfix.ports['smtp']} (smtp): connected to 127.0.0.1" in environment
    logs = [e["text"] for e in page.with_class("log")]
    skipped = [log for log in logs if "needs the submission listener" in log]
    assert skipped and all("(" not in log.split("needs")[0] for log in skipped), "a skip reads as its reason"
    assert not any("SMTP transcript" in log for log in logs), "the transcript shows once, as the extra"
    assert not any("\U0001f512" in t["text"] for t in page.with_class("smtp-transcript"))
    screenshot(report, tmp_path / "profile", ARTIFACTS / "change-ticket-report.png")


LONG_REPLY = "550 5.7.1 " + "relay_denied_for_this_sender_" * 240  # 7 000 characters without a space

WIDE_TESTS = '''
def test_long_reply(smtp_session):
    smtp_session.ehlo()
    smtp_session.mail("probe@example.net")
    smtp_session.rcpt("victim@elsewhere.example").expect("250")
'''


@needs_chromium
def test_a_long_reply_wraps_instead_of_widening_the_page(pytester, tmp_path):
    """A 7 000-character reply, in the deciding-reply column, the transcript and the failure: the page keeps the
    window's width, and the row shows the file's description."""
    from faultserver import FaultServer, mx

    pytester.makepyfile(test_wide=WIDE_TESTS)
    pytester.makefile(".smtp", wide='+++\ndescription = "relay from outside is denied"\n+++\n'
                                    "< 220\n> EHLO probe.example.net\n< 250\n> RCPT TO:<victim@elsewhere.example>\n"
                                    "< 550 5.7.1 /nothing like it/\n")
    report = tmp_path / "report.html"
    with FaultServer(mx({"RCPT": lambda peer: peer.reply(LONG_REPLY)}), max_connections=5) as server:
        result = pytester.runpytest_subprocess(f"--smtp-target={server.target}", f"--html={report}",
                                               "--self-contained-html", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=2)
    measured = tmp_path / "measured.html"  # the report, with a script that writes the page's width into it
    measured.write_text(report.read_text().replace("</body>", (
        "<script>setTimeout(() => { const m = document.createElement('div'); m.id = 'measured'; m.className ="
        " 'width-' + Math.round(Math.max(...[...document.querySelectorAll('*')].map(e => e.getBoundingClientRect()"
        ".right))); document.body.append(m); }, 3000);</script></body>")))
    dom = subprocess.run(
        [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,900",
         "--virtual-time-budget=10000", "--dump-dom", measured.as_uri()],
        capture_output=True, text=True, timeout=120, check=True).stdout
    page = Elements()
    page.feed(dom)
    widths = [int(e["class"].removeprefix("width-")) for e in page.found if e["class"].startswith("width-")]
    assert widths and widths[0] <= 1280, f"the page is {widths} pixels wide in a 1280-pixel window"
    assert "relay_denied_for_this_sender_relay" in dom  # the reply is there, wrapped
    cells = [e["text"] for e in page.found if e["tag"] == "td"]
    assert "relay from outside is denied" in cells
