"""Quality reports: scores as attributes, the full report as a dict, the HTML page."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Union


@dataclass(frozen=True)
class ColumnScore:
    """One metric of one column (higher is better, between 0 and 1)."""

    column: str
    metric: str
    score: float


class Report:
    """A generation's quality report."""

    def __init__(self, client: Any, answer: Any):
        self._client = client
        summary = answer.summary
        self.id: str = summary.id
        self.generation_id: str = summary.generation_id
        self.overall: float = summary.overall
        self.column_shapes: float = summary.column_shapes
        self.column_pair_trends: float = summary.column_pair_trends
        self.gate_passed: bool = summary.gate_passed
        self.column_scores: List[ColumnScore] = [
            ColumnScore(s.column, s.metric, s.score) for s in answer.column_scores
        ]
        self._json: Dict[str, Any] = json.loads(answer.report_json) if answer.report_json else {}

    @property
    def gate_reasons(self) -> List[str]:
        """Why the quality gate failed (empty when it passed)."""
        return list(self._json.get("gate", {}).get("reasons", []))

    def to_dict(self) -> Dict[str, Any]:
        """The whole report (fidelity, utility, privacy risk, recommendations)."""
        return dict(self._json)

    def html(self) -> str:
        """The report as a self-contained HTML page."""
        from ._proto.mirage.v1 import quality_pb2

        conn = self._client._conn
        answer = conn.call(conn.quality.GetReportHtml, quality_pb2.GetReportHtmlRequest(report_id=self.id))
        return answer.html.decode("utf-8")

    def save_html(self, path: Union[str, Path]) -> Path:
        """Writes the HTML report to ``path`` and returns the path."""
        path = Path(path)
        path.write_text(self.html(), encoding="utf-8")
        return path

    def _repr_html_(self) -> str:
        gate = "passed" if self.gate_passed else "failed"
        rows = "".join(
            f"<tr><td>{s.column}</td><td>{s.metric}</td><td>{s.score:.3f}</td></tr>" for s in self.column_scores
        )
        return (
            f"<div><b>Quality report {self.id}</b> — overall {self.overall:.3f}, column shapes "
            f"{self.column_shapes:.3f}, pair trends {self.column_pair_trends:.3f}, gate {gate}"
            f"<table><tr><th>column</th><th>metric</th><th>score</th></tr>{rows}</table></div>"
        )

    def __repr__(self) -> str:
        gate = "passed" if self.gate_passed else "failed"
        return f"<Report {self.id} overall={self.overall:.3f} gate {gate}>"
