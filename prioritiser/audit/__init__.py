"""The audit of model-assisted exclusions: audit pack, HTML report, QA sampling and reproduce.

- :func:`write_audit` writes the pack (see :mod:`prioritiser.audit.pack`);
- :func:`reproduce` recomputes an audited ranking and checks the manifest's hashes;
- :func:`draw_qa_sample` / :func:`qa_findings`: quality control of the model's exclusions;
- :func:`load_verified`: the only way a persisted (joblib) model file may be loaded.
"""

from prioritiser.audit.integrity import load_verified, verify_file
from prioritiser.audit.pack import AuditSummary, write_audit
from prioritiser.audit.qa import draw_qa_sample, qa_findings, qa_rounds
from prioritiser.audit.reproduce import ReproduceResult, reproduce

__all__ = ["AuditSummary", "ReproduceResult", "draw_qa_sample", "load_verified", "qa_findings", "qa_rounds",
           "reproduce", "verify_file", "write_audit"]
