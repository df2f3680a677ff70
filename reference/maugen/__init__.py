"""MAUGen reference: joint face-image + AU-label generation (see pipeline_maugen.py)."""

from reference.maugen.modules import DIGLabelHead, MultimodalRepresentation
from reference.maugen.pipeline_maugen import MAUGenPipeline, MAUGenPipelineOutput

__all__ = ["DIGLabelHead", "MAUGenPipeline", "MAUGenPipelineOutput", "MultimodalRepresentation"]
