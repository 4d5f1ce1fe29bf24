"""The audit of model-assisted exclusions: audit pack, HTML report, QA sampling and reproduce.

- :func:`write_audit` writes the pack (see :mod:`prioritiser.audit.pack`);
- :func:`reproduce` recomputes an audited ranking and checks the manifest's hashes;
- :func:`draw_qa_sample` / :func:`qa_findings`: quality control of the model's exclusions.
"""

from prioritiser.audit.pack import AuditSummary, write_audit
from prioritiser.audit.qa import draw_qa_sample, qa_findings, qa_rounds
from prioritiser.audit.reproduce import ReproduceResult, reproduce

__all__ = ["AuditSummary", "ReproduceResult", "draw_qa_sample", "qa_findings", "qa_rounds", "reproduce",
           "write_audit"]
