"""SynFER reference: expression text + AU adapter + semantic guidance + pseudo-labels (see pipeline_synfer.py)."""

from reference.synfer.modules import AUAdapter, FERClassifier, FEREnsemble, PseudoLabeller
from reference.synfer.pipeline_synfer import SynFERPipeline, SynFERPipelineOutput

__all__ = ["AUAdapter", "FERClassifier", "FEREnsemble", "PseudoLabeller", "SynFERPipeline", "SynFERPipelineOutput"]
