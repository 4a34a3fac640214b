"""What running a `.smtp` file comes to: one shape from the runner to the report and `--smtp-update`.

Typed all the way. It becomes builtins only where pytest-xdist needs them, through the one codec here
(`to_json`/`from_json`): in the run directory (execution.py), where one worker hands a file's result to
the others, and in a failed item's report (`smtp_mismatch`), which carries its Mismatch to the controller
for `--smtp-update`.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

from ..smtp.transcript import Transcript

__all__ = ["ExchangeVerdict", "FileResult", "Mismatch", "Outcome"]


class Outcome(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_RUN = "not run"  # an earlier exchange failed: the session stopped there


@dataclass(frozen=True)
class Mismatch:
    """A `<` line a reply did not satisfy: where its expectation is written, what it said, and the reply instead.

    ``start``/``end`` are the expectation's columns in its line, as the parser read them: `--smtp-update`
    rewrites exactly that span.
    """

    line: int
    start: int
    end: int
    expected: str
    code: int
    enhanced: str | None
    text: str | None  # the reply's text; None: not known (a rewrite then drops a text match)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Mismatch:
        return cls(**data)


@dataclass(frozen=True)
class ExchangeVerdict:
    """What one exchange came to: its outcome, the words of a failure, and its part of the transcript."""

    index: int
    outcome: Outcome
    line: int  # the line to point at: the `<` line that failed, else the exchange's first line
    message: str = ""
    duration: float = 0.0
    entries: tuple[int, int] = (0, 0)  # [start, end) of the exchange's lines in the transcript
    mismatch: Mismatch | None = None  # a reply that failed its `<` line (not a close, a timeout or a refused chunk)


@dataclass
class FileResult:
    """The session of one file: a verdict for each exchange it reached, and the whole transcript."""

    verdicts: list[ExchangeVerdict] = field(default_factory=list)
    transcript: Transcript | None = None
    error: str | None = None  # the run itself could not happen (never a server fault: those are verdicts)

    @property
    def failed(self) -> ExchangeVerdict | None:
        return next((v for v in self.verdicts if v.outcome is Outcome.FAILED), None)

    def verdict(self, index: int) -> ExchangeVerdict | None:
        return self.verdicts[index] if index < len(self.verdicts) else None

    def to_json(self) -> dict[str, Any]:
        """Verdicts and the transcript (whose lines are masked) as builtins, for the other xdist workers."""
        return {
            "verdicts": [asdict(verdict) | {"outcome": verdict.outcome.value,
                                            "mismatch": verdict.mismatch and verdict.mismatch.to_json()}
                         for verdict in self.verdicts],
            "transcript": None if self.transcript is None else self.transcript.to_json(),
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileResult:
        verdicts = [
            ExchangeVerdict(**{**v, "outcome": Outcome(v["outcome"]), "entries": tuple(v["entries"]),
                               "mismatch": v["mismatch"] and Mismatch.from_json(v["mismatch"])})
            for v in data["verdicts"]
        ]
        transcript = None if data["transcript"] is None else Transcript.from_json(data["transcript"])
        return cls(verdicts, transcript, data["error"])
